"""Gather what the HTML report shows, as plain JSON-able data (also what ``sizeup report --json`` prints).

Sources, all through the library API:

* this machine: :func:`sizeup.probe_hardware` (or a :class:`~sizeup.hardware.Hardware` passed in);
* the ranking: :func:`sizeup.recommend.recommend` over the built-in catalog, as ``sizeup fit`` does;
* the history database (:mod:`sizeup.history`): ``llama.cpp`` bench runs (prediction next to
  measurement), ``quality`` runs grouped into quantization matrices (one per reference model, corpus
  and context), and ``try`` experiments.

Everything read from the history is untrusted text: it is kept as data here and escaped by the
renderer. Counts are bounded (:data:`MAX_RUNS` runs read, :data:`MAX_TEXT` characters per string).
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

from .. import __version__

SCHEMA = 1
MAX_RUNS = 5000  # newest history runs read
MAX_TEXT = 300  # characters kept of any string from the history or a model
MAX_RANKING = 100
BENCH_METRICS = ("pp", "tg", "ttft", "load", "rss_model", "rss_peak", "vram_peak")
QUALITY_METRICS = ("bytes", "kld_mean", "kld_p99", "ppl", "ppl_ratio", "same_top", "rms_dp", "tg")


def _s(v: Any) -> str | None:
    """A bounded string (or None)."""
    if v is None:
        return None
    t = str(v)
    return t if len(t) <= MAX_TEXT else t[: MAX_TEXT - 1] + "…"


def _num(v: Any) -> float | None:
    """A finite float, or None for anything else (NaN, inf, strings, bools)."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    if isinstance(v, int):
        return v if abs(v) < 2**53 else float(v)
    return v if math.isfinite(v) else None


def _mean(summaries: dict[str, Any], metric: str) -> float | None:
    s = summaries.get(metric)
    return _num(s.get("mean")) if isinstance(s, dict) else None


# --- the ranking -----------------------------------------------------------------------------------

def ranking(hw: Any, ctx: int = 8192, top: int = 15, task: str | None = None) -> dict[str, Any]:
    """The catalog ranked for ``hw`` at ``ctx`` tokens (and ``task``), like ``sizeup fit``: the models that
    fit, best first."""
    from ..catalog import describe_entry, load_catalog
    from ..recommend import collapse_variants, recommend

    top = max(1, min(int(top), MAX_RANKING))
    models, too_short = [], 0
    for e in load_catalog():
        m = describe_entry(e)
        if m.arch and 0 < m.arch.n_ctx_train < ctx:
            too_short += 1
            continue
        tags = m.extra.get("tags", [])
        if task and task not in tags and "chat" not in tags:
            continue
        models.append(m)
    calibration = _calibration(hw)
    choices = recommend(models, hw, ctx=ctx, task=task, calibration=calibration)
    fitting = [c for c in choices if c.fits]
    groups = collapse_variants(fitting)[:top]
    rows = []
    for i, (c, variants) in enumerate(groups, 1):
        d = c.to_dict()
        rows.append({
            "rank": i, "id": _s(d["id"]), "params": d["params"], "active_params": d["active_params"],
            "quant": _s(d["quant"]), "memory_needed": d["memory_needed"], "memory_available": d["memory_available"],
            "where": _s(d["where"]), "n_gpu_layers": d["n_gpu_layers"], "decode_tps": _num(d["decode_tps"]),
            "prefill_tps": _num(d["prefill_tps"]), "speed_calibrated": bool(d["speed_calibrated"]),
            "fit": d["fit"], "score": _num(d["score"]), "reason": _s(d["reason"]), "license": _s(d["license"]),
            "variants": [_s(v.to_dict()["id"]) for v in variants][:20],
            "command": _s((d.get("command") or {}).get("llama_cpp")) if isinstance(d.get("command"), dict) else None,
        })
    return {
        "ctx": ctx,
        "task": task,
        "calibrated": calibration is not None,
        "calibration": _s(calibration.describe()) if calibration is not None else None,
        "rows": rows,
        "n_fitting": len(fitting),
        "n_considered": len(choices),
        "n_context_too_short": too_short,
    }


def _calibration(hw: Any):
    try:
        from ..bench.calibrate import load_calibration

        return load_calibration(hw)
    except Exception:  # a broken or missing history must not stop the ranking (as in `sizeup fit`)
        return None


# --- the history -----------------------------------------------------------------------------------

def bench_row(r: Any, this_fp: str | None) -> dict[str, Any]:
    """One ``llama.cpp`` bench run (or ``try`` candidate): settings, measured means, and the prediction
    made before it."""
    c = r.config if isinstance(r.config, dict) else {}
    pred = r.prediction if isinstance(r.prediction, dict) else {}
    mem = pred.get("memory") if isinstance(pred.get("memory"), dict) else {}
    spd = pred.get("speed") if isinstance(pred.get("speed"), dict) else {}
    fa = c.get("flash_attn")
    label = " ".join(f"{k}={_s(v)}" for k, v in (("t", c.get("n_threads")), ("ngl", c.get("n_gpu_layers")),
                                                  ("fa", {True: "on", False: "off"}.get(fa, fa)),
                                                  ("kv", c.get("type_k")), ("ctx", c.get("n_ctx")),
                                                  ("p", c.get("n_prompt")), ("n", c.get("n_gen")),
                                                  ("d", c.get("n_depth"))) if v is not None)
    return {
        "run": r.id, "kind": "try" if r.kind == "try" else "bench", "started_at": _s(r.started_at),
        "status": _s(r.status), "error": _s(r.error), "model": _s(r.model.get("name")), "quant": _s(r.model.get("quant")), "size": _num(r.model.get("size")),
        "config": _s(label), "this_machine": bool(this_fp and r.hw_fingerprint == this_fp),
        "measured": {m: _mean(r.summaries, m) for m in BENCH_METRICS},
        "predicted": {"tg": _num(spd.get("tg_tps")), "pp": _num(spd.get("pp_tps")), "rss": _num(mem.get("rss")),
                      "calibrated": bool(spd.get("calibrated")), "bound": _s(spd.get("bound"))},
    }


def error_pct(pred: float | None, meas: float | None) -> float | None:
    """(predicted - measured) / measured in percent."""
    if pred is None or meas is None or meas == 0:
        return None
    return 100.0 * (pred - meas) / meas


def quality_matrices(runs: list[Any]) -> list[dict[str, Any]]:
    """Quality runs grouped by (reference model, corpus, context): one matrix each, largest file first,
    with the size/KLD Pareto front marked."""
    from ..quality.chart import pareto_front

    groups: dict[tuple, dict[str, Any]] = {}
    for r in runs:
        if r.kind != "quality" or r.status != "ok":
            continue
        ref = r.extra.get("reference") if isinstance(r.extra, dict) else None
        ref = ref if isinstance(ref, dict) else {}
        c = r.config if isinstance(r.config, dict) else {}
        key = (_s(ref.get("hash")), _s(c.get("corpus")), _s(c.get("ctx")))
        g = groups.setdefault(key, {
            "reference": {"name": _s(ref.get("name")), "quant": _s(ref.get("quant")), "size": _num(ref.get("size"))}
            if ref else None,
            "corpus": _s(c.get("corpus")), "ctx": _num(c.get("ctx")), "chunks": _num(c.get("chunks")), "rows": [],
        })
        g["rows"].append({
            "run": r.id, "started_at": _s(r.started_at), "model": _s(r.model.get("name")),
            "quant": _s(r.model.get("quant")), "size": _num(r.model.get("size")),
            **{m: _mean(r.summaries, m) for m in QUALITY_METRICS},
        })
    out = []
    for g in groups.values():
        rows = g["rows"]
        # the newest run per model file wins (a matrix re-run replaces its older rows)
        seen: dict[Any, dict] = {}
        for row in sorted(rows, key=lambda x: x["run"]):
            seen[(row["model"], row["quant"], row["size"])] = row
        rows = sorted(seen.values(), key=lambda x: -(x["bytes"] or x["size"] or 0))
        pts = [(row["bytes"] or row["size"], row["kld_mean"]) for row in rows]
        ok = [i for i, (b, k) in enumerate(pts) if b is not None and k is not None]
        front = {ok[i] for i in pareto_front([pts[i] for i in ok])}
        for i, row in enumerate(rows):
            row["on_front"] = i in front
        g["rows"] = rows
        out.append(g)
    out.sort(key=lambda g: -max(r["run"] for r in g["rows"]))
    return out


def pareto(points: list[tuple[float | None, float | None]], maximize_x: bool, maximize_y: bool) -> list[int]:
    """Indices of points not dominated by another (both coordinates at least as good, one better).
    Points with a missing coordinate are never on the front."""
    sx = -1.0 if maximize_x else 1.0
    sy = -1.0 if maximize_y else 1.0
    pts = [(None if x is None or y is None else (sx * x, sy * y)) for x, y in points]
    front = []
    for i, p in enumerate(pts):
        if p is None:
            continue
        if not any(q is not None and q[0] <= p[0] and q[1] <= p[1] and (q[0] < p[0] or q[1] < p[1])
                   for j, q in enumerate(pts) if j != i):
            front.append(i)
    return front


# --- everything --------------------------------------------------------------------------------------

def collect(history_db: str | Path | None = None, *, hw: Any = None, ctx: int = 8192, top: int = 15,
            task: str | None = None, with_ranking: bool = True) -> dict[str, Any]:
    """All the report's data. ``history_db``: path (default: :func:`sizeup.history.default_path`);
    a missing file is not created, the history sections are then empty."""
    from ..history import HistoryDB, default_path, hardware_fingerprint

    if hw is None:
        from ..hardware import probe_hardware

        hw = probe_hardware()
    fp, _ = hardware_fingerprint(hw)
    path = Path(history_db) if history_db is not None else default_path()
    data: dict[str, Any] = {
        "schema": SCHEMA,
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "sizeup_version": __version__,
        "machine": hw.to_dict() | {"fingerprint": fp},
        "ranking": ranking(hw, ctx, top, task) if with_ranking else None,
        "history": {"db": str(path), "found": path.is_file(), "n_runs": 0, "by_kind": {}, "truncated": False},
        "bench": [],
        "bench_failed": [],
        "quality_matrices": [],
        "try_experiments": [],
    }
    if not path.is_file():
        return data
    from .tryexp import try_experiments

    with HistoryDB.reader(path) as db:  # read-only: never migrates or writes the user's history
        runs = db.list_runs(limit=MAX_RUNS)
        data["try_experiments"] = try_experiments(db, runs)
    h = data["history"]
    h["n_runs"] = len(runs)
    h["truncated"] = len(runs) >= MAX_RUNS
    for r in runs:
        k = _s(r.kind) or "?"
        h["by_kind"][k] = h["by_kind"].get(k, 0) + 1
    runs = sorted(runs, key=lambda r: r.id)
    for r in runs:  # bench runs, and `try` candidates (measured the same way, with the same prediction)
        if r.kind not in ("llama.cpp", "try"):
            continue
        row = bench_row(r, fp)
        if r.kind == "try" and r.status != "ok":
            continue  # listed with its experiment
        if r.status == "ok":
            for m, pm in (("tg", "tg"), ("pp", "pp"), ("rss_model", "rss")):
                row.setdefault("error_pct", {})[pm] = error_pct(row["predicted"][pm], row["measured"][m])
            data["bench"].append(row)
        else:
            data["bench_failed"].append(row)
    data["quality_matrices"] = quality_matrices(runs)
    return data
