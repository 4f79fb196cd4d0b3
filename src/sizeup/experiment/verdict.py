"""The verdict of a ``sizeup try``: the Pareto front, what each step up buys, and the best choice.

Pure functions over the candidate dicts of the ``try --json`` document (see :mod:`.run`).

* Criteria: bits per byte (lower is better), generation speed tg tok/s (higher), memory = the
  measured resident memory of the model plus its peak VRAM (lower), and pass@1 (higher) when the
  functional check ran. A candidate is on the front when no other is at least as good on every
  criterion and better on one.
* Steps: the front sorted by memory; each step from one front member to the next says how much
  better the bigger one is (bits per byte, pass@1 points) for how much more memory and how much
  slower. Quality differences are *paired* over the same chunks (every candidate scored the same
  spans), and called out as "within the noise" when the 95% interval of the paired difference
  contains zero.
* Best choice: among the candidates that meet ``--min-speed`` (tg tok/s) and ``--max-memory``,
  the lowest bits per byte (then the higher pass@1, then the smaller memory).
"""

from __future__ import annotations

import math
from typing import Any

from .bpb import _t95


def memory_of(c: dict[str, Any]) -> float | None:
    m = c.get("measured") or {}
    rss = m.get("rss_model_bytes")
    if rss is None:
        return None
    return float(rss) + float(m.get("vram_peak_bytes") or 0)


def _q(c: dict[str, Any], key: str) -> float | None:
    v = (c.get("quality") or {}).get(key)
    return float(v) if isinstance(v, (int, float)) and math.isfinite(v) else None


def _tg(c: dict[str, Any]) -> float | None:
    v = (c.get("measured") or {}).get("tg_tps")
    return float(v) if isinstance(v, (int, float)) and math.isfinite(v) else None


def usable(cands: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [c for c in cands if c.get("status") == "ok" and _q(c, "bpb") is not None and _tg(c) is not None
            and memory_of(c) is not None]


def _vector(c: dict[str, Any], with_pass: bool) -> list[float]:
    v = [_q(c, "bpb"), -_tg(c), memory_of(c)]  # all "lower is better"
    if with_pass:
        v.append(-(_q(c, "pass_at_1") or 0.0))
    return v  # type: ignore[return-value]


def pareto(cands: list[dict[str, Any]]) -> list[int]:
    """Indices (into ``cands``) of the usable candidates on the front, smallest memory first."""
    idx = [i for i, c in enumerate(cands) if c in usable(cands)]
    with_pass = all(_q(cands[i], "pass_at_1") is not None for i in idx)
    vec = {i: _vector(cands[i], with_pass) for i in idx}
    front = []
    for i in idx:
        dominated = any(all(a <= b for a, b in zip(vec[j], vec[i])) and any(a < b for a, b in zip(vec[j], vec[i]))
                        for j in idx if j != i)
        if not dominated:
            front.append(i)
    return sorted(front, key=lambda i: memory_of(cands[i]) or 0)


def paired_delta(a: dict[str, Any], b: dict[str, Any]) -> tuple[float, float | None]:
    """Mean per-chunk bpb difference b - a over the shared chunks, and its 95% half-width."""
    pa = (a.get("quality") or {}).get("per_chunk_bpb") or []
    pb = (b.get("quality") or {}).get("per_chunk_bpb") or []
    n = min(len(pa), len(pb))
    if n == 0:
        return (_q(b, "bpb") or 0) - (_q(a, "bpb") or 0), None
    d = [float(y) - float(x) for x, y in zip(pa[:n], pb[:n])]
    mean = sum(d) / n
    if n < 2:
        return mean, None
    sd = math.sqrt(sum((x - mean) ** 2 for x in d) / (n - 1))
    return mean, _t95(n - 1) * sd / math.sqrt(n)


def _mib(b: float) -> str:
    from ..units import fmt_bytes

    return fmt_bytes(int(b))


def step_text(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    bpb_a, bpb_b = _q(a, "bpb"), _q(b, "bpb")
    mem_a, mem_b = memory_of(a), memory_of(b)
    tg_a, tg_b = _tg(a), _tg(b)
    pa, pb = _q(a, "pass_at_1"), _q(b, "pass_at_1")
    delta, half = paired_delta(a, b)
    bpb_delta = bpb_b - bpb_a  # type: ignore[operator]
    parts = []
    if half is not None and abs(delta) <= half:
        parts.append(f"no clear difference in bits per byte ({bpb_a:.3f} vs {bpb_b:.3f}, within the noise)")
    else:
        word = "better" if bpb_delta < 0 else "worse"
        parts.append(f"{abs(bpb_delta):.3f} bits/byte {word} ({bpb_a:.3f} -> {bpb_b:.3f}, "
                     f"{abs(bpb_delta) / bpb_a * 100:.0f}% {'less' if bpb_delta < 0 else 'more'} to encode your text)")
    pass_pts = None
    if pa is not None and pb is not None:
        pass_pts = (pb - pa) * 100
        parts.append(f"{pass_pts:+.0f} pass@1 points ({pa * 100:.0f}% -> {pb * 100:.0f}%)")
    mem_ratio = mem_b / mem_a if mem_a else None  # type: ignore[operator]
    speed_ratio = tg_b / tg_a if tg_a else None  # type: ignore[operator]
    cost = []
    if mem_ratio is not None:
        cost.append(f"{mem_ratio:.1f}x the memory ({'+' if mem_b >= mem_a else '-'}{_mib(abs(mem_b - mem_a))})")  # type: ignore[operator]
    if speed_ratio is not None:
        cost.append(f"{1 / speed_ratio:.1f}x slower ({tg_a:.1f} -> {tg_b:.1f} tok/s)" if speed_ratio < 1
                    else f"{speed_ratio:.1f}x faster ({tg_a:.1f} -> {tg_b:.1f} tok/s)")
    text = f"{b['label']} over {a['label']}: " + ", ".join(parts) + ", for " + " and ".join(cost) + "."
    return {"from": a["label"], "to": b["label"], "bpb_delta": bpb_delta, "bpb_delta_paired": delta,
            "bpb_delta_ci95_half": half, "pass_delta_points": pass_pts, "memory_ratio": mem_ratio,
            "memory_delta_bytes": int(mem_b - mem_a) if mem_a is not None and mem_b is not None else None,
            "speed_ratio": speed_ratio, "text": text}


def best_choice(cands: list[dict[str, Any]], min_speed: float | None, max_memory: int | None) -> dict[str, Any]:
    ok = usable(cands)
    fit = [c for c in ok if (min_speed is None or (_tg(c) or 0) >= min_speed)
           and (max_memory is None or (memory_of(c) or 0) <= max_memory)]
    cons = []
    if min_speed is not None:
        cons.append(f"at least {min_speed:g} tok/s")
    if max_memory is not None:
        cons.append(f"at most {_mib(max_memory)}")
    under = " under " + " and ".join(cons) if cons else ""
    if not ok:
        return {"label": None, "reason": "no candidate finished", "min_speed": min_speed, "max_memory": max_memory}
    if not fit:
        return {"label": None, "reason": f"no candidate meets{under or ' the limits'}", "min_speed": min_speed,
                "max_memory": max_memory}
    best = min(fit, key=lambda c: (_q(c, "bpb"), -(_q(c, "pass_at_1") or 0), memory_of(c)))
    reason = (f"{best['label']} has the lowest bits per byte{under} ({_q(best, 'bpb'):.3f}"
              + (f", pass@1 {(_q(best, 'pass_at_1') or 0) * 100:.0f}%" if _q(best, "pass_at_1") is not None else "")
              + f", {_tg(best):.1f} tok/s, {_mib(memory_of(best) or 0)})")
    return {"label": best["label"], "reason": reason, "min_speed": min_speed, "max_memory": max_memory}


def verdict(cands: list[dict[str, Any]], min_speed: float | None = None, max_memory: int | None = None) -> dict[str, Any]:
    """The verdict block of the ``try --json`` document; also sets each candidate's ``on_front``."""
    front = pareto(cands)
    for i, c in enumerate(cands):
        c["on_front"] = i in front
    steps = [step_text(cands[a], cands[b]) for a, b in zip(front, front[1:])]
    best = best_choice(cands, min_speed, max_memory)
    lines = [s["text"] for s in steps]
    ok = usable(cands)
    for c in ok:
        if c["on_front"]:
            continue
        vc = _vector(c, False)
        by = next((d for d in ok if d is not c and all(x <= y for x, y in zip(_vector(d, False), vc))), None)
        lines.append(f"{c['label']} is never the better choice here: "
                     + (f"{by['label']} is at least as good, as fast and as small." if by else
                        "another candidate beats it on every measure."))
    if len(ok) == 1:
        lines.append(f"Only {ok[0]['label']} finished, so there is nothing to weigh it against.")
    lines.append(("Best choice: " if best["label"] else "") + best["reason"] + ".")
    for c in cands:
        if c.get("status") != "ok":
            lines.append(f"{c.get('label')}: {c.get('status')} ({c.get('error') or 'no result'}).")
    return {"quality_metric": "bpb", "front": [cands[i]["label"] for i in front], "steps": steps, "best": best,
            "lines": lines}
