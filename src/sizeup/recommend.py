"""What should I run on this machine? Ranked, explainable recommendations from the catalog.

For every model sizeup tries every quantization type its release allows (:mod:`.estimate.native`:
never above the release precision - MXFP4 for gpt-oss, Q8_0 for FP8 releases) in every placement
llama.cpp offers:

1. entirely on the GPU(s) (``-ngl`` all);
2. GPU + experts on CPU (MoE models: ``--n-cpu-moe N``, N chosen as llama.cpp's ``--fit`` does,
   :mod:`.estimate.expert_offload`);
3. partial offload (the most layers that fit in VRAM, the rest in RAM);
4. the CPU alone (or the unified pool of an Apple-style machine).

Each (quant, placement) is scored with the same score the ranking uses (:mod:`.scoring`: quality
lost to the quant against speed, fit and headroom), and the best one is the model's
recommendation; ``--quant`` forces a type. Models are then ranked by that score plus their
capability (:mod:`.evidence`: published benchmark figures, or a size prior), task tag, kind and
recency. ``--explain`` prints every component.

The search runs on per-layer weight sums cached per (architecture shape, quant) and the memory
model's non-weight buffers (:mod:`.estimate.plan`), so a catalog of thousands ranks in well under
a second; the chosen plan of each model is then re-checked with the full memory model. Each
shape's search is done once: models of one shape (fine-tunes) share it, and the on-disk cache of
:mod:`.estimate.summary_cache` keeps it for the next run on the very same machine and run config.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field, fields
from typing import Any

from . import scoring
from .advice.plan_codec import decode_plans, encode_plans
from .advice.run_command import RunCommand
from .data.quant_quality import RECOMMENDABLE
from .errors import SizeupError
from .estimate import plan as planmod
from .estimate.config import RunConfig
from .estimate.expert_offload import fit_n_cpu_moe
from .estimate.memory import MemoryEstimate
from .estimate.native import Release, release_from_dict, release_of
from .estimate.placement import Device, devices_from_hardware
from .estimate.plan_speed import plan_speed
from .estimate.weight_summary import WeightSummary, predicted_summary, shape_key, summarize
from .evidence import Capability, EvidenceModel, effective_params  # noqa: F401 (re-exported)
from .model import ModelDescription

RAM_RESERVE = 1.0 * 2**30  # leave this much RAM for the OS and the user's other programs
TIGHT_FRACTION = scoring.TIGHT_FRACTION
USABLE_TPS = scoring.DEFAULT_TARGET_TPS

FIT_GPU = "GPU"
FIT_EXPERTS = "GPU + experts on CPU"
FIT_PARTIAL = "GPU+CPU"
FIT_CPU = "CPU"
FIT_NONE = "does not fit"
_WHERE = frozenset({FIT_GPU, FIT_EXPERTS, FIT_PARTIAL, FIT_CPU})  # where a stored plan may place a model
MAX_PLAN_CACHE = 20_000


@dataclass
class Choice:
    """One model at one quantization and placement on this machine."""

    model: ModelDescription
    quant: str
    ctx: int
    where: str  # FIT_GPU | FIT_EXPERTS | FIT_PARTIAL | FIT_CPU | FIT_NONE
    n_gpu_layers: int
    memory_estimate: MemoryEstimate | None  # see ``memory``: may be filled on first use
    needed: int  # bytes the run reserves in total (RAM + VRAM)
    available: int  # bytes of the budget it was checked against
    tight: bool
    decode_tps: float | None = None
    prefill_tps: float | None = None
    speed_calibrated: bool = False
    tensors: list | None = None  # the file's own tensors (local GGUFs); catalog rows use ``summary``
    miss_bytes: int = 0  # how much more memory it would need, when it does not fit
    score: float = 0.0
    components: dict[str, float] = field(default_factory=dict)
    reason: str = ""
    n_cpu_moe: int = 0
    release: Release | None = None
    summary: WeightSummary | None = None
    capability: Capability | None = None
    command: RunCommand | None = None
    busiest: float = 0.0  # largest share of one device's budget in use
    considered: list[dict[str, Any]] = field(default_factory=list)  # the other (quant, placement) scores
    memory_fn: Any = field(default=None, repr=False, compare=False)  # computes the estimate when first asked

    @property
    def memory(self) -> MemoryEstimate | None:
        """The plan through the full memory model. Placements the fast path sizes exactly (all on
        the GPU, experts on CPU, CPU only) are only run through it for the rows someone looks at."""
        if self.memory_estimate is None and self.memory_fn is not None:
            self.memory_estimate = self.memory_fn()
            self.memory_fn = None
        return self.memory_estimate

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
            "release_precision": self.release.to_dict() if self.release else None,
            "ctx": self.ctx,
            "where": self.where,
            "n_gpu_layers": self.n_gpu_layers,
            "n_cpu_moe": self.n_cpu_moe,
            "memory_needed": self.needed,
            "memory_available": self.available,
            "memory_by_device": ([{"device": d.name, "total": d.total, "weights": d.weights, "kv": d.kv,
                                   "free": d.free} for d in self.memory.devices] if self.memory else None),
            "fit": self.fit_level,
            "decode_tps": self.decode_tps,
            "prefill_tps": self.prefill_tps,
            "speed_calibrated": self.speed_calibrated,
            "miss_bytes": self.miss_bytes,
            "score": round(self.score, 3),
            "components": {k: round(v, 3) for k, v in self.components.items()},
            "capability": ({"basis": self.capability.basis, "blend": self.capability.blend,
                            "size_doublings": round(self.capability.size, 3),
                            "adjust": round(self.capability.adjust, 3), "evidence": self.capability.evidence,
                            "explain": self.capability.describe()} if self.capability else None),
            "considered": self.considered,
            "command": self.command.to_dict() if self.command else None,
            "reason": self.reason,
            "license": self.model.license.id,
            "openness": self.model.license.openness,
            "tags": list(extra.get("tags", [])),
            "ollama": extra.get("ollama"),
            "path": str(self.model.path) if self.model.source == "gguf" and self.model.path else None,
        }


def _ram_budget(devices: list[Device]) -> int | None:
    free = devices[0].free
    return None if free is None else max(0, free - int(RAM_RESERVE))


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


def release_for(model: ModelDescription) -> Release:
    rel = model.extra.get("release")
    if isinstance(rel, Release):
        return rel
    if isinstance(rel, dict) and rel.get("precision"):
        return release_from_dict(rel)
    return release_of(model.extra.get("hf_config"), model.extra.get("hf_id"))


def _types_for(model: ModelDescription, release: Release, forced: str | None) -> list[str]:
    if _own_tensors(model):
        return [model.quant.label if model.quant and model.quant.label else "file"]
    if forced:
        f = forced.upper()
        if f in release.types:
            return [f]
        bits = scoring._bpw(f)
        top = scoring._bpw(release.lossless) or 16.0
        if release.lossless == "MXFP4_MOE":
            top = 4.25
        if bits is not None and bits < top and release.precision != "MXFP4":
            return [f]
        return [release.lossless]  # never above the release: the lossless type stands in
    return list(release.types)


@dataclass(frozen=True)
class _Ctx:
    """Everything a plan search depends on besides the model's shape."""

    ctx: int
    base: RunConfig
    host: Device
    gpus: tuple[Device, ...]
    unified: bool
    budgets: tuple[int | None, ...]
    cpu_spec: Any
    gpu_spec: Any
    calibration: Any
    task: str | None
    min_speed: float | None

    def __hash__(self) -> int:  # every model's plan lookup hashes it: its fields are hashed once
        return self._hash

    @functools.cached_property
    def _hash(self) -> int:
        return hash(tuple(getattr(self, f.name) for f in fields(self)))

    @functools.cached_property
    def machine_repr(self) -> str:
        """Its repr, made once: part of every stored plan search's fingerprint."""
        return repr(self)


def _own_tensors(model: ModelDescription) -> bool:
    """A local GGUF: sized from its own tensor list, not from a predicted quant mix (so nothing
    about it is shared with other models of its shape)."""
    return bool(model.tensors) and model.source == "gguf"


def _summary(model: ModelDescription, q: str) -> WeightSummary:
    if _own_tensors(model):
        return summarize(model.tensors, model.arch, q)
    return predicted_summary(model.arch, q)


def _busiest(totals: tuple[int, ...], budgets: tuple[int | None, ...]) -> float:
    fr = [t / b for t, b in zip(totals, budgets) if b]
    return max(fr) if fr else 0.0


def _plans(model: ModelDescription, types: list[str], release: Release, c: _Ctx) -> tuple[list[dict], dict | None]:
    """Every (quant, placement) that fits, scored; plus the smallest miss when none does."""
    cfg = c.base.with_(n_ctx=c.ctx)
    b = _bases(model, cfg, c)
    n = model.arch.n_layer
    moe_comp = planmod.moe_host_compute(model, cfg) if model.arch.n_expert else 0
    ram = c.budgets[0]
    total_budget = (ram or 0) + sum(x or 0 for x in c.budgets[1:]) if not c.unified else (ram or 0)
    out: list[dict] = []
    miss: dict | None = None
    for q in types:
        try:
            ws = _summary(model, q)
        except SizeupError:
            continue  # a type this architecture cannot take (row sizes)
        cands: list[tuple[str, int, int, tuple[int, ...]]] = []
        if c.unified or not c.gpus:
            t = planmod.cpu_totals(ws, b)
            ok = (ram is None or sum(t) <= ram) and all(
                g.free is None or t[1 + i] <= g.free for i, g in enumerate(c.gpus)) if c.unified else (
                ram is None or t[0] <= ram)
            if ok:
                cands.append((FIT_GPU if c.unified else FIT_CPU, n + 1 if c.unified else 0, 0, t))
            else:
                miss = {"quant": q, "needed": sum(t), "available": total_budget, "summary": ws}
        else:
            full = planmod.gpu_totals(ws, b, n + 1)
            if planmod.fits(full, c.budgets):
                cands.append((FIT_GPU, n + 1, 0, full))
            else:
                ex = fit_n_cpu_moe(ws, b, c.budgets, moe_comp)
                if ex is not None:
                    cands.append((FIT_EXPERTS, n + 1, ex.n_cpu_moe, ex.totals))
                ngl = planmod.max_ngl(ws, b, c.budgets)
                if ngl > 0:
                    t = planmod.gpu_totals(ws, b, ngl)
                    if ram is None or t[0] <= ram:
                        cands.append((FIT_PARTIAL, ngl, 0, t))
                cpu = planmod.cpu_totals(ws, b)
                if ram is None or cpu[0] <= ram:
                    cands.append((FIT_CPU, 0, 0, cpu))
                if not cands:
                    miss = {"quant": q, "needed": cpu[0], "available": total_budget, "summary": ws}
        for where, ngl, ncmoe, totals in cands:
            sp = None
            if c.cpu_spec is not None:
                gpu = c.gpu_spec if where != FIT_CPU else None
                sp = plan_speed(ws, model.arch, c.cpu_spec, gpu, ngl if gpu else 0, ncmoe, c.calibration)
            busiest = _busiest(totals, c.budgets)
            comps = {"quant": scoring.quant_component(q, release.lossless) if not _own_tensors(model)
                     else -max(0.0, scoring.ppl_loss(q)[0])}
            comps["speed"] = scoring.speed_component(sp.decode_tps if sp else None, c.task)
            comps.update(scoring.fit_components(where == FIT_PARTIAL, busiest))
            out.append({"quant": q, "where": where, "ngl": ngl, "n_cpu_moe": ncmoe, "totals": totals,
                        "busiest": busiest, "speed": sp, "components": comps, "plan_score": sum(comps.values()),
                        "summary": ws})
    return out, miss


def _bases_key(model: ModelDescription, cfg: RunConfig, c: _Ctx) -> str:
    from .estimate import summary_cache

    free = [g.free or 0 for g in c.gpus]
    split = tuple(round(f / sum(free), 3) for f in free) if len(free) > 1 and sum(free) else ()
    return summary_cache.key_of((shape_key(model.arch), cfg, len(c.gpus), split, c.unified), "bases")


def _bases(model: ModelDescription, cfg: RunConfig, c: _Ctx) -> planmod.Bases:
    """plan.bases, kept on disk per (shape, config, devices) for catalog models."""
    from .estimate import summary_cache

    if _own_tensors(model):
        return planmod.bases(model, cfg, c.host, list(c.gpus), c.unified)
    # The buffers do not depend on how much memory is free, only on how layers are split over the
    # GPUs (by their free memory): key on the split fractions, so a run with a little more or less
    # free RAM finds the same entry.
    free = [g.free or 0 for g in c.gpus]
    key = _bases_key(model, cfg, c)
    b = summary_cache.get_bases(key, model.arch.n_layer)
    if b is None:
        b = planmod.bases(model, cfg, c.host, list(c.gpus), c.unified)
        summary_cache.put_bases(key, b)
        return b
    return planmod.Bases(b.gpu, b.cpu, tuple(free))


@dataclass(frozen=True)
class _Search:
    """One shape's plan search, with what every model of that shape reads from it worked out once
    (read-only: the rows of all its models share it)."""

    plans: list[dict]
    miss: dict | None
    ranked: list[dict]  # best plan score first
    fast: list[dict]  # ranked, fast enough for --min-speed
    considered: list[dict]  # the rows --explain shows


def _search_of(plans: list[dict], miss: dict | None, c: _Ctx) -> _Search:
    ranked = sorted(plans, key=lambda p: -p["plan_score"])
    fast = [p for p in ranked if c.min_speed is None or (p["speed"] and p["speed"].decode_tps >= c.min_speed)]
    considered = [{"quant": p["quant"], "where": p["where"], "n_gpu_layers": p["ngl"], "n_cpu_moe": p["n_cpu_moe"],
                   "decode_tps": round(p["speed"].decode_tps, 2) if p["speed"] else None,
                   "plan_score": round(p["plan_score"], 3)} for p in ranked[:12]]
    return _Search(plans, miss, ranked, fast, considered)


_PLAN_CACHE: dict[tuple, _Search] = {}


def _plan_key(model: ModelDescription, types: list[str], release: Release, c: _Ctx) -> tuple:
    """What a plan search depends on: models of one shape (fine-tunes) share their plans."""
    return (shape_key(model.arch), tuple(types), release.lossless, c)


def _remember_plans(key: tuple, value: _Search) -> _Search:
    if len(_PLAN_CACHE) > MAX_PLAN_CACHE:
        _PLAN_CACHE.clear()
    return _PLAN_CACHE.setdefault(key, value)


def _cached_plans(model: ModelDescription, types: list[str], release: Release, c: _Ctx) -> _Search:
    """The plan search of ``model``'s shape: from this process, else from the disk cache, else
    worked out (and stored in both)."""
    if _own_tensors(model):
        return _search_of(*_plans(model, types, release, c), c)
    key = _plan_key(model, types, release, c)
    hit = _PLAN_CACHE.get(key)
    if hit is None:
        hit = _stored_plans(model, types, release, c, key)
    if hit is None:
        hit = _remember_plans(key, _search_of(*_plans(model, types, release, c), c))
        _store_plans(model, types, release, c, hit)
    return hit


def _plan_slot(model: ModelDescription, types: list[str], release: Release, c: _Ctx) -> tuple[str, str]:
    """Where the disk cache keeps a shape's plan search, and the fingerprint it must carry to be
    used. The slot leaves out how much memory is free (which differs on every run of a real
    machine, so each run replaces the slot's search rather than adding one); the fingerprint is
    the whole search key plus the source of the modules the search runs."""
    from .estimate import summary_cache
    from .estimate.weight_summary import shape_repr

    what = f"{shape_repr(shape_key(model.arch))}|{types!r}|{release.lossless}"
    run = (c.ctx, c.base, len(c.gpus), c.unified, c.task, c.min_speed)
    slot = summary_cache.key_of((), "plans", f"{what}|{run!r}")
    fingerprint = summary_cache.key_of((), summary_cache.plans_version(), f"{what}|{c.machine_repr}")
    return slot, fingerprint


def _stored_plans(model: ModelDescription, types: list[str], release: Release, c: _Ctx, key: tuple) -> _Search | None:
    """The plan search the disk cache holds for exactly this key, remembered here; else None."""
    from .estimate import summary_cache

    if " at 0x" in c.machine_repr:  # something without a stable repr (a calibration object): not stored
        return None
    data = summary_cache.get_plans(*_plan_slot(model, types, release, c))
    if data is None:
        return None
    decoded = decode_plans(data, types, _WHERE)
    return None if decoded is None else _remember_plans(key, _search_of(*decoded, c))


def _store_plans(model: ModelDescription, types: list[str], release: Release, c: _Ctx, s: _Search) -> None:
    from .estimate import summary_cache

    if " at 0x" not in c.machine_repr:
        summary_cache.put_plans(*_plan_slot(model, types, release, c), encode_plans(s))


def _plan_summary(model: ModelDescription, p: dict) -> WeightSummary:
    """A plan's (or a miss's) weight summary: searches read back from JSON leave it to be looked
    up when a row needs it (only the chosen plan's is)."""
    ws = p["summary"]
    if ws is None:  # kept in the (shared) plan: every model of the shape has this same summary
        ws = p["summary"] = _summary(model, p["quant"])
    return ws


def _exact(model: ModelDescription, c: _Ctx, p: dict) -> MemoryEstimate:
    """The chosen plan through the full memory model (weights from the summary, experts moved)."""
    from .estimate.memory import estimate_memory

    n = model.arch.n_layer
    ngl = -1 if p["ngl"] >= n + 1 else p["ngl"]
    cfg = c.base.with_(n_ctx=c.ctx, n_gpu_layers=ngl if (c.gpus and p["where"] != FIT_CPU) else 0)
    devs = [c.host, *c.gpus] if (c.gpus and p["where"] != FIT_CPU) else [c.host]
    est = estimate_memory(model, cfg, devs, tensors=[])
    ws = _plan_summary(model, p)
    w = planmod._weights(ws, est.placement.layer_device, est.placement.output_device, len(est.devices) - 1,
                         p["n_cpu_moe"])
    for i, d in enumerate(est.devices):
        d.weights += w[i]
    if cfg.use_mmap:
        est.devices[0].weights_mapped = est.devices[0].weights
    est.rss += w[0]
    if p["n_cpu_moe"]:
        extra = planmod.moe_host_compute(model, cfg)
        est.devices[0].compute += extra
        est.rss += extra
        est.notes.append(f"--n-cpu-moe {p['n_cpu_moe']}: routed experts of the first {p['n_cpu_moe']} layers "
                         f"({sum(ws.exps[:p['n_cpu_moe']]) / 2**30:.1f} GiB) stay in RAM")
    return est


_EXACT_CACHE: dict[tuple, MemoryEstimate] = {}


def _exact_cached(model: ModelDescription, c: _Ctx, p: dict) -> MemoryEstimate:
    """:func:`_exact`, shared by models of one shape (fine-tunes); the estimate is read-only."""
    if _own_tensors(model):
        return _exact(model, c, p)
    key = (shape_key(model.arch), c, p["quant"], p["where"], p["ngl"], p["n_cpu_moe"])
    hit = _EXACT_CACHE.get(key)
    if hit is None:
        if len(_EXACT_CACHE) > MAX_PLAN_CACHE:
            _EXACT_CACHE.clear()
        hit = _EXACT_CACHE[key] = _exact(model, c, p)
    return hit


def _device_ok(est: MemoryEstimate, c: _Ctx, where: str) -> bool:
    ram = c.budgets[0]
    if c.unified:
        return (ram is None or est.total <= ram) and all(g.fits is not False for g in est.gpus)
    host_ok = ram is None or est.host.total <= ram
    return host_ok and all(g.free is None or g.total <= g.free for g in est.gpus)


def _model_types(model: ModelDescription, quants=None, quant: str | None = None) -> tuple[list[str], Release]:
    """The quant types to try for ``model`` and its release (see best_choice)."""
    if model.arch is None:
        raise SizeupError(f"{model.name}: architecture unknown, cannot plan it")
    release = release_for(model)
    types = _types_for(model, release, quant)
    if quants is not None:
        types = [q for q in quants if q in types or q == "F16"] or types
        if "F16" in types and "F16" not in release.types and release.lossless in ("BF16",):
            types = ["BF16" if q == "F16" else q for q in types]
    return types, release


def _search_ctx(ctx: int, devices: list[Device], *, min_speed: float | None = None, base: RunConfig | None = None,
                hardware=None, calibration=None, task: str | None = None, specs=None) -> _Ctx:
    """What every model's plan search shares on this machine."""
    base = base or RunConfig(n_ctx=ctx)
    if specs is None and hardware is not None:
        from .bench.calibrate import device_specs

        specs = device_specs(hardware, None, 1)
    cpu_spec, gpu_spec = specs if specs else (None, None)
    ram = _ram_budget(devices)
    gpus = tuple(d for d in devices[1:] if d.kind == "gpu" and (d.free or 0) > 0)
    unified = any(d.unified for d in gpus)
    host = Device("CPU", "cpu", ram, devices[0].total)
    budgets = (ram,) + tuple(g.free for g in gpus)
    cal = getattr(calibration, "calibration", calibration)
    return _Ctx(ctx, base, host, gpus, unified, budgets, cpu_spec, gpu_spec, cal, task, min_speed)


def best_choice(model: ModelDescription, ctx: int, devices: list[Device], *, quants=None,
                min_speed: float | None = None, speed_fn=None, base: RunConfig | None = None,
                hardware=None, calibration=None, task: str | None = None, quant: str | None = None,
                specs=None) -> Choice:
    """The best-scoring (quant, placement) of ``model`` that fits (and is fast enough), else the smallest miss.

    ``quants`` restricts the candidate types (default: what the release allows); ``quant``
    forces one (never above the release precision); ``hardware`` gives the speed model its
    bandwidths (without it speeds are unknown and do not count).
    """
    types, release = _model_types(model, quants, quant)
    c = _search_ctx(ctx, devices, min_speed=min_speed, base=base, hardware=hardware, calibration=calibration,
                    task=task, specs=specs)
    return _best(model, types, release, c, speed_fn)


def _best(model: ModelDescription, types: list[str], release: Release, c: _Ctx, speed_fn=None,
          search: _Search | None = None) -> Choice:
    ctx, task, min_speed = c.ctx, c.task, c.min_speed
    ram, budgets, unified = c.budgets[0], c.budgets, c.unified
    s = search or _cached_plans(model, types, release, c)
    plans, miss, ranked, considered = s.plans, s.miss, s.ranked, s.considered
    for p in s.fast:
        est = None
        if p["where"] == FIT_PARTIAL:  # the fast path's split is approximate: check, correct the guess
            est = _exact_cached(model, c, p)
            for ngl in range(p["ngl"] - 1, max(0, p["ngl"] - 4), -1):
                if _device_ok(est, c, p["where"]):
                    break
                p = {**p, "ngl": ngl}
                est = _exact_cached(model, c, p)
            if not _device_ok(est, c, p["where"]):
                continue
        sp = p["speed"]
        needed = est.total if est is not None else sum(p["totals"])
        ch = Choice(model, p["quant"], ctx, p["where"], p["ngl"], est, needed,
                    sum(x or 0 for x in budgets) if not unified else (ram or 0),
                    tight=p["busiest"] > TIGHT_FRACTION, decode_tps=sp.decode_tps if sp else None,
                    prefill_tps=sp.prefill_tps if sp else None, speed_calibrated=bool(sp and sp.calibrated),
                    tensors=model.tensors or None, n_cpu_moe=p["n_cpu_moe"], release=release,
                    summary=_plan_summary(model, p), busiest=p["busiest"], considered=considered,
                    memory_fn=(lambda p=p: _exact_cached(model, c, p)) if est is None else None)
        ch.components = dict(p["components"])
        if speed_fn is not None:
            speed_fn(ch)
            ch.components["speed"] = scoring.speed_component(ch.decode_tps, task)
        ch.reason = _reason(ch, len(plans))
        return ch
    if plans:  # fits, but nothing is fast enough
        p = ranked[0]
        est = _exact(model, c, p)
        sp = p["speed"]
        ch = Choice(model, p["quant"], ctx, FIT_NONE, p["ngl"], est, est.total, sum(x or 0 for x in budgets),
                    tight=False, decode_tps=sp.decode_tps if sp else None, n_cpu_moe=p["n_cpu_moe"],
                    release=release, summary=_plan_summary(model, p), considered=considered)
        ch.reason = (f"fits at {p['quant']} but decodes at ~{ch.decode_tps or 0:.1f} tok/s at best, "
                     f"below --min-speed {min_speed:g}")
        return ch
    if miss is None:
        raise SizeupError(f"{model.name}: no quantization type in {', '.join(types)} can be sized for this architecture")
    needed, avail = miss["needed"], miss["available"]
    ch = Choice(model, miss["quant"], ctx, FIT_NONE, 0, None, needed, avail, tight=False,
                miss_bytes=max(0, needed - avail), release=release, summary=_plan_summary(model, miss))
    ch.reason = _reason(ch, 0)
    return ch


def _reason(c: Choice, n_plans: int) -> str:
    gib = c.needed / 2**30
    if not c.fits:
        if c.miss_bytes:
            return f"needs {gib:.1f} GiB at {c.quant}, {c.miss_bytes / 2**30:.1f} GiB more than is free"
        return f"needs {gib:.1f} GiB at {c.quant}: no device split fits it"
    where = {FIT_GPU: "fully on the GPU", FIT_CPU: "on the CPU",
             FIT_EXPERTS: f"on the GPU with the routed experts of {c.n_cpu_moe} layers in RAM",
             FIT_PARTIAL: f"{c.n_gpu_layers} layers on the GPU, the rest on the CPU"}[c.where]
    rel = c.release.precision if c.release else "?"
    return f"{c.quant} ({rel} release; best of {n_plans} quant x placement plans); {gib:.1f} GiB {where}"


_CTX_CONFIGS: dict[tuple, RunConfig] = {}


def _command(ch: Choice, base: RunConfig, has_gpu: bool) -> RunCommand:
    from .advice.run_command import build

    m = ch.model
    r = _CTX_CONFIGS.get((base, ch.ctx))
    if r is None:  # one per run: RunConfig.with_ re-validates every field
        if len(_CTX_CONFIGS) > 64:
            _CTX_CONFIGS.clear()
        r = _CTX_CONFIGS[(base, ch.ctx)] = base.with_(n_ctx=ch.ctx)
    gguf = m.path if (m.source == "gguf" and m.path) else None
    fa = r.flash_attn in (True, "auto") and m.arch.name != "grok"  # as config.resolve / estimate_memory
    return build(quant=ch.quant, ctx=ch.ctx, n_gpu_layers=ch.n_gpu_layers if ch.where != FIT_CPU else 0,
                 n_layer=m.arch.n_layer, n_cpu_moe=ch.n_cpu_moe, hf_id=m.extra.get("hf_id"),
                 gguf_path=str(gguf) if gguf else None, ollama_tag=m.extra.get("ollama"), type_k=r.type_k,
                 type_v=r.type_v, flash_attn=fa, n_parallel=r.n_parallel, has_gpu=has_gpu and ch.where != FIT_CPU)


def recommend(models: list[ModelDescription], hardware, *, ctx: int = 8192, task: str | None = None,
              min_speed: float | None = None, speed_fn=None, base: RunConfig | None = None,
              progress=None, calibration=None, quant: str | None = None,
              evidence: EvidenceModel | None = None) -> list[Choice]:
    """Every model's best choice on ``hardware``, fitting ones first, best score first."""
    from .bench.calibrate import device_specs

    devices = devices_from_hardware(hardware)
    specs = device_specs(hardware, None, 1)
    base = base or RunConfig(n_ctx=ctx)
    ev = evidence or EvidenceModel(models)
    has_gpu = any(d.kind == "gpu" for d in devices[1:])
    sctx = _search_ctx(ctx, devices, min_speed=min_speed, base=base, calibration=calibration, task=task, specs=specs)
    inputs: list[tuple[list[str], Release] | SizeupError] = []
    for m in models:
        try:
            inputs.append(_model_types(m, None, quant))
        except SizeupError as e:
            inputs.append(e)
    from .estimate import parallel_warm

    parallel_warm.warm(_cold_work(models, inputs, sctx), warm_one, _accept_plans)
    out = []
    searches: dict[tuple, _Search] = {}
    for i, m in enumerate(models):
        inp = inputs[i]
        if isinstance(inp, SizeupError):
            raise inp
        c = _best(m, inp[0], inp[1], sctx, speed_fn, search=_search_for(m, inp, sctx, searches))
        score(c, task, ev)
        if c.fits:
            c.command = _command(c, base, has_gpu)
        out.append(c)
        if progress:
            progress(i + 1, len(models))
    out.sort(key=lambda c: (not c.fits, -c.score if c.fits else c.miss_bytes))
    from .estimate import summary_cache

    summary_cache.save()
    return out


def _arch_key(m: ModelDescription, inp: tuple) -> tuple:
    """A cheap key for "same search" within one ranking: the architecture object (catalog entries
    with one config share it; the models list keeps every one alive, so ids are not reused), the
    types tried and the release's losslessness."""
    types, release = inp
    return id(m.arch), tuple(types), release.lossless


def _search_for(m: ModelDescription, inp: tuple, c: _Ctx, seen: dict[tuple, _Search]) -> _Search | None:
    """The plan search of ``m``, looked up once per architecture object (catalog entries with
    one config share one, see ``catalog._shape_of``) rather than by hashing its whole shape for
    every model; None for a local GGUF (its own tensors: nothing shared)."""
    if _own_tensors(m):
        return None
    types, release = inp
    k = _arch_key(m, inp)
    s = seen.get(k)
    if s is None:
        s = seen[k] = _cached_plans(m, types, release, c)
    return s


def _cold_work(models: list[ModelDescription], inputs: list, c: _Ctx) -> list[tuple]:
    """One (model, types, release, context) per distinct shape whose plans neither this process
    nor the disk cache holds: what a ranking is about to search (see
    :mod:`.estimate.parallel_warm`). Models whose types could not be chosen, and local GGUFs
    (sized from their own tensors), are left to the ranking itself."""
    work: dict[tuple, tuple] = {}
    seen: set[tuple] = set()
    for m, inp in zip(models, inputs):
        if isinstance(inp, SizeupError) or _own_tensors(m):
            continue
        types, release = inp
        k = _arch_key(m, inp)
        if k in seen:
            continue
        seen.add(k)
        key = _plan_key(m, types, release, c)
        if key not in work and key not in _PLAN_CACHE and _stored_plans(m, types, release, c, key) is None:
            work[key] = (m, types, release, c)
    return list(work.values())


def warm_one(m: ModelDescription, types: list[str], release: Release, c: _Ctx) -> dict:
    """Work out (and cache) one shape's plans; returned as JSON for :func:`_accept_plans`."""
    return encode_plans(_cached_plans(m, types, release, c))


def _accept_plans(item: tuple, data) -> None:
    """Take the plans a helper process worked out for ``item`` (see :func:`warm_one`); anything
    malformed is dropped, and the ranking then works that shape out itself."""
    m, types, release, c = item
    decoded = decode_plans(data, types, _WHERE)
    if decoded is not None:
        s = _remember_plans(_plan_key(m, types, release, c), _search_of(*decoded, c))
        _store_plans(m, types, release, c, s)


def score(choice: Choice, task: str | None, evidence: EvidenceModel | None = None) -> None:
    """Fill ``choice.score`` and its components (see :mod:`sizeup.scoring`)."""
    m = choice.model
    ev = evidence or EvidenceModel([m])
    cap = ev.capability(m, task)
    choice.capability = cap
    comps = {"capability": cap.value}
    plan = choice.components or {}
    for k in ("quant", "speed", "fit", "headroom"):
        comps[k] = plan.get(k, 0.0)
    comps.update(scoring.model_components(m.extra.get("tags", []), m.extra.get("released", ""), task))
    choice.components = comps
    choice.score = sum(comps.values())


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


__all__ = ["Choice", "FIT_CPU", "FIT_EXPERTS", "FIT_GPU", "FIT_NONE", "FIT_PARTIAL", "RECOMMENDABLE", "best_choice",
           "collapse_variants", "recommend", "score", "weights_lower_bound"]
