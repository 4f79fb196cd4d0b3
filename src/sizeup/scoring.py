"""The one score that picks a model's quant and placement and ranks the models.

Every component is in one unit, "doublings of model size": +1 is worth as much as a model twice
as large. ``--explain`` prints each of them:

* ``capability``: log2 of the effective size in billions, moved by published benchmark figures
  (:mod:`sizeup.evidence`), or the size prior less a discount when there are none;
* ``quant``: minus the perplexity llama.cpp's authors measured the type to add on Llama-3-8B
  (:mod:`sizeup.data.quant_quality`), relative to the model's lossless type (its release
  precision: Q8_0 is lossless for an FP8 release, MXFP4 for gpt-oss). On Llama-3-8B (F16
  wikitext-2 perplexity 6.233, llama.cpp PR #6936's table) +1 ppl is about the ln-perplexity gap
  to a model of half the size, which is why the two share a unit; types the table lacks (IQ*) are interpolated by bits per weight;
* ``speed``: -1 for the first halving of estimated decode speed below the task's usable speed
  (:data:`TARGET_TPS`), -2 for every further halving, and +0.15 per doubling above it (up to
  8x): a little slow costs little, a model at 2 tok/s is not a coding assistant, and between two
  equal answers the faster one wins;
* ``fit``: -0.5 for a partial offload (layers split between GPU and CPU), -0.5 for a tight fit
  (over 90% of a device's budget), ``headroom`` down to -1 as the busiest device goes from
  85% to 100% of its budget: memory left for the OS, the browser and a longer prompt;
* ``task``: +1 when the model is tagged for the task; ``kind``: -3 for a base (not
  instruction-tuned) model, which no one chats with;
* ``recency``: +0.05 per year since 2023, a tie-breaker only.

Because capability, task, kind and recency do not depend on the quant or the placement, the
best (quant, placement) of a model is the one with the best quant + speed + fit + headroom; the
community rules "a bigger model at Q4-Q5 beats a smaller one at F16" and "F16 is rarely worth
it" come out of these numbers rather than being written in.
"""

from __future__ import annotations

import math

from .data.ggml_types import FILE_TYPE_BASE, GGML_TYPES_BY_NAME
from .data.quant_quality import LLAMA3_8B_PPL_DELTA, ppl_delta

TARGET_TPS = {"coding": 20.0, "reasoning": 25.0, "chat": 15.0}  # reading speed; thinking models emit long traces
DEFAULT_TARGET_TPS = 15.0
SPEED_NEAR = 1.0  # per halving between the target and half of it
SPEED_BELOW = 2.0  # per halving below half the target
SPEED_ABOVE = 0.15  # per doubling above it
SPEED_ABOVE_CAP = 8.0  # no further credit beyond 8x the target
PARTIAL_PENALTY = 0.5
TIGHT_PENALTY = 0.5
TIGHT_FRACTION = 0.90
HEADROOM_FROM = 0.85
HEADROOM_MAX = 1.0
TASK_BONUS = 1.0
BASE_MODEL_PENALTY = 3.0
RECENCY_PER_YEAR = 0.05


def target_tps(task: str | None) -> float:
    return TARGET_TPS.get(task or "", DEFAULT_TARGET_TPS)


def _bpw(ftype: str) -> float | None:
    base = GGML_TYPES_BY_NAME.get(FILE_TYPE_BASE.get(ftype, ftype))
    return base.bits_per_weight if base else None


def _table_points() -> list[tuple[float, float]]:
    pts = []
    for t, (_, d) in LLAMA3_8B_PPL_DELTA.items():
        b = _bpw(t)
        if b is not None and d > 0:
            pts.append((b, d))
    return sorted(pts)


_POINTS = _table_points()


def ppl_loss(ftype: str) -> tuple[float, bool]:
    """Perplexity increase of ``ftype`` over F16 on Llama-3-8B, and whether it is interpolated."""
    d = ppl_delta(ftype)
    if d is not None:
        return d, False
    if ftype.upper() in ("MXFP4_MOE",):
        b = 4.25
    else:
        b = _bpw(ftype.upper())
    if b is None:
        return 0.0, True
    if b >= 16:
        return 0.0, False
    # log-linear interpolation of the table's delta against bits per weight
    lo = max((p for p in _POINTS if p[0] <= b), default=_POINTS[0])
    hi = min((p for p in _POINTS if p[0] >= b), default=_POINTS[-1])
    if hi[0] == lo[0]:
        return lo[1], True
    t = (b - lo[0]) / (hi[0] - lo[0])
    return math.exp(math.log(lo[1]) + t * (math.log(hi[1]) - math.log(lo[1]))), True


def quant_component(ftype: str, lossless: str) -> float:
    """Minus the quality the type loses against the model's lossless (release) type."""
    if ftype == lossless:
        return 0.0
    return -max(0.0, ppl_loss(ftype)[0] - ppl_loss(lossless)[0])


def speed_component(decode_tps: float | None, task: str | None) -> float:
    """-1 per halving down to half the target (a little slow), -2 per halving below that (too
    slow), +0.15 per doubling above it (up to 8x); continuous."""
    if decode_tps is None or decode_tps <= 0:
        return 0.0
    r = decode_tps / target_tps(task)
    if r >= 1:
        return SPEED_ABOVE * math.log2(min(r, SPEED_ABOVE_CAP))
    if r >= 0.5:
        return SPEED_NEAR * math.log2(r)
    return -SPEED_NEAR + SPEED_BELOW * math.log2(r / 0.5)


def fit_components(where_partial: bool, busiest: float) -> dict[str, float]:
    """``busiest``: the largest share of a device's budget the plan uses (0..1)."""
    fit = -PARTIAL_PENALTY if where_partial else 0.0
    if busiest > TIGHT_FRACTION:
        fit -= TIGHT_PENALTY
    head = -HEADROOM_MAX * min(1.0, max(0.0, busiest - HEADROOM_FROM) / (1 - HEADROOM_FROM))
    return {"fit": fit, "headroom": head}


def model_components(tags, released: str, task: str | None) -> dict[str, float]:
    tags = set(tags)
    year = str(released)[:4]
    return {
        "task": TASK_BONUS if task and task in tags else 0.0,
        "kind": -BASE_MODEL_PENALTY if "base" in tags else 0.0,
        "recency": RECENCY_PER_YEAR * (int(year) - 2023) if year.isdigit() else 0.0,
    }
