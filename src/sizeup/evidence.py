"""Quality evidence: what published benchmarks say a model is worth, in "doublings of size".

A model's capability in the ranking starts from its size (log2 of its effective parameter count
in billions; for MoE the geometric mean of total and active parameters). Published figures
(``data/model_evidence.json``: MMLU-Pro, GPQA, LiveCodeBench, IFEval... each with its source
URL) then move it: for every benchmark, a line ``score = a + b * log2(params)`` is fitted over
the catalog models that report it, and a model's residual on it, divided by the slope ``b``, is
how many doublings of size it is ahead of (or behind) what its size predicts (at most 3 either
way); the weighted blend is shrunk towards zero when it rests on few figures. Comparing each
model only with others on the same benchmark keeps publishers' differing benchmark versions
and settings from mixing. The residuals are blended with task weights (``--task coding``
leans on LiveCodeBench, Aider and HumanEval; ``reasoning`` on GPQA and AIME; ``chat`` on
MMLU-Pro, IFEval and Arena-Hard).

Without published figures a model keeps its size, less half the spread of the evidence-based
adjustments: an unmeasured model is a gamble, and the ranking says so.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from .errors import SizeupError
from .model import ModelDescription

EVIDENCE_PATH = Path(__file__).parent / "data" / "model_evidence.json"
MAX_EVIDENCE_BYTES = 8 << 20
MIN_MODELS_PER_BENCHMARK = 5  # fewer and a fitted line is noise
MIN_SLOPE = 0.5  # points per doubling; a flatter benchmark cannot rank models by size
MAX_ADJUST = 3.0  # doublings a benchmark may move a model either way
PRIOR_SPREAD_SHARE = 0.5  # no evidence: size less this share of the adjustments' spread
# Shrinkage: a blend is divided by (its weights + this), so one figure moves a model less than
# several that agree (a single saturated HumanEval score is weak evidence).
SHRINK_WEIGHT = 2.0

# task -> benchmark -> weight
BLENDS: dict[str, dict[str, float]] = {
    "coding": {"livecodebench": 3.0, "aider-polyglot": 2.0, "humaneval": 1.5, "swe-bench-verified": 1.5,
               "mbpp": 1.0, "multipl-e": 1.0, "mmlu-pro": 1.0},
    "reasoning": {"gpqa": 3.0, "aime-2025": 2.0, "aime-2024": 2.0, "mmlu-pro": 2.0, "math": 1.5, "math-500": 1.0,
                  "livecodebench": 1.0},
    "chat": {"mmlu-pro": 2.0, "ifeval": 2.0, "arena-hard": 2.0, "mmlu": 1.0, "gpqa": 1.0, "big-bench-hard": 1.0},
    "general": {"mmlu-pro": 2.0, "gpqa": 1.5, "ifeval": 1.5, "livecodebench": 1.5, "arena-hard": 1.0, "mmlu": 1.0,
                "math": 1.0},
}


def blend_for(task: str | None) -> str:
    return task if task in BLENDS else "general"


@functools.lru_cache(maxsize=1)
def load_evidence(path: str | None = None) -> dict[str, tuple[dict[str, Any], ...]]:
    """HF id (lower case) -> its figures ({benchmark, score, method, source, via})."""
    p = Path(path) if path else EVIDENCE_PATH
    from .data import load_json_data

    doc = load_json_data(p, MAX_EVIDENCE_BYTES)
    models = doc.get("models") if isinstance(doc, dict) else None
    if not isinstance(models, dict):
        raise SizeupError(f"{p.name}: expected a 'models' object")
    out: dict[str, tuple[dict[str, Any], ...]] = {}
    for hf, figs in models.items():
        if not isinstance(figs, list):
            raise SizeupError(f"{p.name}: figures of {str(hf)[:80]!r} are not a list")
        good = []
        for f in figs[:64]:
            if not (isinstance(f, dict) and isinstance(f.get("benchmark"), str)
                    and isinstance(f.get("score"), (int, float)) and 0 <= f["score"] <= 100
                    and isinstance(f.get("source"), str) and f["source"].startswith("http")):
                raise SizeupError(f"{p.name}: bad figure for {str(hf)[:80]!r}: {str(f)[:80]!r}")
            good.append(f)
        out[str(hf).lower()] = tuple(good)
    return out


def effective_params(model: ModelDescription) -> float:
    p = model.params
    if p is None or p.total <= 0:
        return 0.0
    if p.active and p.active < p.total:
        return math.sqrt(p.total * p.active)
    return float(p.total)


def size_doublings(model: ModelDescription) -> float:
    """log2 of the effective parameter count in billions (the size prior)."""
    return math.log2(max(effective_params(model), 1e7) / 1e9)


@dataclass(frozen=True)
class Line:
    a: float
    b: float
    n: int


@dataclass
class Capability:
    value: float  # doublings: log2(size in B) + evidence adjustment (or - the prior discount)
    size: float  # the size part
    adjust: float  # evidence adjustment or prior discount (negative)
    evidence: list[dict[str, Any]] = field(default_factory=list)  # figures used, with their residuals
    basis: str = "evidence"  # "evidence" | "prior"
    blend: str = "general"

    def describe(self) -> str:
        if self.basis == "prior":
            return (f"no published figures: size prior {self.size:+.2f} ({2 ** self.size:.1f}B effective), "
                    f"{self.adjust:+.2f} for being unmeasured")
        figs = ", ".join(f"{f['benchmark']} {f['score']:g} ({f['doublings']:+.2f})" for f in self.evidence)
        return f"{self.blend} blend of {figs}: {self.adjust:+.2f} doublings on its size {self.size:+.2f}"


class EvidenceModel:
    """Benchmark lines fitted over a set of models, and each model's capability from them."""

    def __init__(self, models: Iterable[ModelDescription], evidence: dict[str, tuple[dict, ...]] | None = None):
        self.evidence = load_evidence() if evidence is None else evidence
        points: dict[str, list[tuple[float, float]]] = {}
        seen: set[str] = set()
        for m in models:
            hf = str(m.extra.get("hf_id") or m.name).lower()
            if hf in seen or hf not in self.evidence or m.params is None:
                continue
            seen.add(hf)
            x = size_doublings(m)
            for f in self.evidence[hf]:
                points.setdefault(f["benchmark"], []).append((x, float(f["score"])))
        self.lines: dict[str, Line] = {}
        for bench, pts in points.items():
            if len(pts) < MIN_MODELS_PER_BENCHMARK:
                continue
            n = len(pts)
            mx = sum(p[0] for p in pts) / n
            my = sum(p[1] for p in pts) / n
            sxx = sum((p[0] - mx) ** 2 for p in pts)
            if sxx <= 1e-9:
                continue
            b = sum((p[0] - mx) * (p[1] - my) for p in pts) / sxx
            if b >= MIN_SLOPE:
                self.lines[bench] = Line(my - b * mx, b, n)
        self._spread: dict[str, float] = {}
        self._models = [m for m in models] if not isinstance(models, list) else models

    def _adjust(self, hf: str, x: float, blend: str) -> tuple[float, list[dict[str, Any]]] | None:
        figs = self.evidence.get(hf)
        if not figs:
            return None
        weights = BLENDS[blend]
        used, total_w, acc = [], 0.0, 0.0
        for f in figs:
            w = weights.get(f["benchmark"])
            line = self.lines.get(f["benchmark"])
            if not w or line is None:
                continue
            d = max(-MAX_ADJUST, min(MAX_ADJUST, (float(f["score"]) - (line.a + line.b * x)) / line.b))
            used.append({**f, "doublings": round(d, 3), "weight": w})
            acc += w * d
            total_w += w
        if not used:
            return None
        return acc / (total_w + SHRINK_WEIGHT), used

    def spread(self, blend: str) -> float:
        """Standard deviation of the evidence adjustments over the models that have them."""
        if blend not in self._spread:
            vals = []
            seen = set()
            for m in self._models:
                hf = str(m.extra.get("hf_id") or m.name).lower()
                if hf in seen or m.params is None:
                    continue
                seen.add(hf)
                r = self._adjust(hf, size_doublings(m), blend)
                if r is not None:
                    vals.append(r[0])
            if len(vals) >= 2:
                mu = sum(vals) / len(vals)
                self._spread[blend] = math.sqrt(sum((v - mu) ** 2 for v in vals) / (len(vals) - 1))
            else:
                self._spread[blend] = 1.0
        return self._spread[blend]

    def capability(self, model: ModelDescription, task: str | None) -> Capability:
        blend = blend_for(task)
        x = size_doublings(model)
        hf = str(model.extra.get("hf_id") or model.name).lower()
        r = self._adjust(hf, x, blend)
        if r is None and blend != "general":
            r = self._adjust(hf, x, "general")
            if r is not None:
                blend = "general"
        if r is None:
            d = -PRIOR_SPREAD_SHARE * self.spread(blend_for(task))
            return Capability(x + d, x, d, [], "prior", blend)
        return Capability(x + r[0], x, r[0], r[1], "evidence", blend)
