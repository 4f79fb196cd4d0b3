"""``sizeup try`` experiments in the report: read from the history, drawn as tables and Pareto charts.

Source (schema ``sizeup.try/1``, written by ``sizeup try``):

* the ``experiments`` table (``HistoryDB.list_experiments``): one document per ``try`` invocation
  with every candidate (model, estimate, measured speed and memory, bits per byte with its
  interval, pass@1) and the verdict;
* the ``runs`` rows of kind ``try`` (one per candidate, ``extra.experiment_id``): used for an
  experiment whose document is missing (a ``try`` killed before it wrote one), with the figures
  the run's summaries hold.

Every value is checked (numbers finite, strings bounded, lists capped): the history is untrusted
input like any other file.
"""

from __future__ import annotations

from typing import Any

from . import svg
from .collect import _mean, _num, _s, pareto

TRY_KIND = "try"
MAX_EXPERIMENTS = 20  # newest; each document is at most 4 MiB
MAX_CANDIDATES = 64
MAX_LINES = 40


def _d(v: Any) -> dict[str, Any]:
    return v if isinstance(v, dict) else {}


def _pair(v: Any) -> tuple[float | None, float | None]:
    if isinstance(v, (list, tuple)) and len(v) == 2:
        return _num(v[0]), _num(v[1])
    return None, None


def _blank(run: Any = None) -> dict[str, Any]:
    return {"index": None, "label": None, "spec": None, "status": None, "error": None, "run": run, "model": None,
            "quant": None, "source": None, "derived_from": None, "file_size": None, "n_params": None,
            "bpb": None, "bpb_ci_low": None, "bpb_ci_high": None, "pass_at_1": None, "pass_ci_low": None,
            "pass_ci_high": None, "tasks_passed": None, "tasks_total": None, "load": None, "ttft": None,
            "pp": None, "tg": None, "rss_peak": None, "rss_model": None, "vram_peak": None,
            "predicted": {"tg": None, "pp": None, "rss": None}, "error_pct": {"tg": None, "pp": None, "rss": None},
            "on_front": False}


def candidate_from_doc(c: dict[str, Any]) -> dict[str, Any]:
    """A candidate of a ``sizeup.try/1`` document as the report's flat record."""
    m, q, meas, est = _d(c.get("model")), _d(c.get("quality")), _d(c.get("measured")), _d(c.get("estimate"))
    out = _blank(_num(c.get("run_id")))
    lo, hi = _pair(q.get("bpb_ci95"))
    plo, phi = _pair(q.get("pass_ci95"))
    der = _d(m.get("derived_from"))
    ep = _d(c.get("error_pct"))
    out.update({
        "index": _num(c.get("index")), "label": _s(c.get("label")), "spec": _s(c.get("spec")),
        "status": _s(c.get("status")), "error": _s(c.get("error")), "model": _s(m.get("name")),
        "quant": _s(m.get("quant")), "source": _s(m.get("source")),
        "derived_from": _s(der.get("quant")) if der else None,
        "file_size": _num(m.get("file_size")), "n_params": _num(m.get("n_params")),
        "bpb": _num(q.get("bpb")), "bpb_ci_low": lo, "bpb_ci_high": hi,
        "pass_at_1": _num(q.get("pass_at_1")), "pass_ci_low": plo, "pass_ci_high": phi,
        "tasks_passed": _num(q.get("tasks_passed")), "tasks_total": _num(q.get("tasks_total")),
        "load": _num(meas.get("load_s")), "ttft": _num(meas.get("ttft_s")), "pp": _num(meas.get("pp_tps")),
        "tg": _num(meas.get("tg_tps")), "rss_peak": _num(meas.get("rss_peak_bytes")),
        "rss_model": _num(meas.get("rss_model_bytes")), "vram_peak": _num(meas.get("vram_peak_bytes")),
        "predicted": {"tg": _num(_d(est.get("speed")).get("tg_tps")), "pp": _num(_d(est.get("speed")).get("pp_tps")),
                      "rss": _num(_d(est.get("memory")).get("rss"))},
        "error_pct": {k: _num(ep.get(k)) for k in ("tg", "pp", "rss")},
        "on_front": c.get("on_front") is True,
    })
    return out


def candidate_from_run(r: Any) -> dict[str, Any]:
    """A candidate from its ``runs`` row (kind ``try``) when the experiment's document is missing."""
    s, extra, pred = r.summaries, _d(r.extra), _d(r.prediction)
    out = _blank(r.id)
    out.update({
        "index": _num(extra.get("index")), "label": _s(extra.get("candidate") or r.model.get("name")),
        "status": _s(r.status), "error": _s(r.error), "model": _s(r.model.get("name")), "quant": _s(r.model.get("quant")),
        "file_size": _num(r.model.get("size")),
        "bpb": _mean(s, "bpb"), "pass_at_1": _mean(s, "pass_at_1"), "load": _mean(s, "load"), "ttft": _mean(s, "ttft"),
        "bpb_ci_low": _pair(extra.get("bpb_ci95"))[0], "bpb_ci_high": _pair(extra.get("bpb_ci95"))[1],
        "tasks_passed": _num(extra.get("tasks_passed")), "tasks_total": _num(extra.get("tasks_total")),
        "pp": _mean(s, "pp"), "tg": _mean(s, "tg"), "rss_peak": _mean(s, "rss_peak"), "rss_model": _mean(s, "rss_model"),
        "vram_peak": _mean(s, "vram_peak"),
        "predicted": {"tg": _num(_d(pred.get("speed")).get("tg_tps")), "pp": _num(_d(pred.get("speed")).get("pp_tps")),
                      "rss": _num(_d(pred.get("memory")).get("rss"))},
    })
    return out


def experiment_from_doc(eid: Any, row: dict[str, Any], doc: dict[str, Any]) -> dict[str, Any]:
    corpus, st, v = _d(doc.get("corpus")), _d(doc.get("settings")), _d(doc.get("verdict"))
    cands = doc.get("candidates") if isinstance(doc.get("candidates"), list) else []
    best = _d(v.get("best"))
    steps = v.get("steps") if isinstance(v.get("steps"), list) else []
    lines = v.get("lines") if isinstance(v.get("lines"), list) else []
    return {
        "id": _num(eid), "source": "experiment", "started_at": _s(row.get("started_at") or doc.get("started_at")),
        "finished_at": _s(row.get("finished_at") or doc.get("finished_at")),
        "status": _s(row.get("status")), "interrupted": doc.get("interrupted") is True,
        "corpus": {"kind": _s(corpus.get("kind")), "name": _s(corpus.get("name")), "bytes": _num(corpus.get("bytes")),
                   "n_files": _num(corpus.get("n_files")), "note": _s(corpus.get("note")),
                   "sha256": _s(corpus.get("sha256"))},
        "settings": {k: (_num(st.get(k)) if k != "tasks" else _s(st.get(k)))
                     for k in ("tasks", "n_tasks", "n_chunks", "chunk_bytes", "n_ctx", "n_threads", "min_speed",
                               "max_memory")},
        "verdict": {"quality_metric": _s(v.get("quality_metric")),
                    "front": [_s(x) for x in (v.get("front") or [])[:MAX_CANDIDATES]] if isinstance(v.get("front"), list) else [],
                    "best": {"label": _s(best.get("label")), "reason": _s(best.get("reason"))} if best else None,
                    "steps": [_s(_d(x).get("text")) for x in steps[:MAX_LINES] if _d(x).get("text")],
                    "lines": [_s(x) for x in lines[:MAX_LINES]]},
        "candidates": [candidate_from_doc(_d(c)) for c in cands[:MAX_CANDIDATES]],
    }


def _mark_fronts(cands: list[dict[str, Any]]) -> str | None:
    """Mark the 2-D fronts of the charts; returns the quality metric used (bpb, else pass@1)."""
    metric = "bpb" if any(c["bpb"] is not None for c in cands) else (
        "pass_at_1" if any(c["pass_at_1"] is not None for c in cands) else None)
    for key, xkey, maxx in (("front_speed", "tg", True), ("front_memory", "rss_peak", False)):
        pts = [(c[xkey], c[metric]) if metric and c["status"] in (None, "ok") else (None, None) for c in cands]
        front = set(pareto(pts, maximize_x=maxx, maximize_y=metric == "pass_at_1"))
        for i, c in enumerate(cands):
            c[key] = i in front
    return metric


def try_experiments(db: Any, runs: list[Any]) -> list[dict[str, Any]]:
    """Experiments newest first: documents from the ``experiments`` table, then any experiment known
    only from its ``try`` runs."""
    out: list[dict[str, Any]] = []
    seen: set = set()
    lister = getattr(db, "list_experiments", None)
    if callable(lister):
        for row in lister(limit=MAX_EXPERIMENTS) or []:
            row = _d(row)
            doc = _d(row.get("result"))
            eid = row.get("id")
            seen.add(eid)
            if not doc.get("candidates"):
                continue  # still running, or died before writing its document: its runs are used below
            out.append(experiment_from_doc(eid, row, doc))
    by_exp: dict[Any, list[Any]] = {}
    for r in runs:
        if r.kind != TRY_KIND:
            continue
        eid = _d(r.extra).get("experiment_id")
        if isinstance(eid, bool) or not isinstance(eid, int) or eid in {e["id"] for e in out}:
            continue
        by_exp.setdefault(eid, []).append(r)
    for eid, rs in by_exp.items():
        rs = sorted(rs, key=lambda r: r.id)[:MAX_CANDIDATES]
        out.append({
            "id": eid, "source": "runs", "started_at": _s(rs[0].started_at), "finished_at": _s(rs[-1].finished_at),
            "status": None, "interrupted": False,
            "corpus": {"kind": None, "name": _s(_d(rs[0].config).get("corpus")), "bytes": None, "n_files": None,
                       "note": None, "sha256": None},
            "settings": {}, "verdict": {"quality_metric": None, "front": [], "best": None, "steps": [], "lines": []},
            "candidates": [candidate_from_run(r) for r in rs],
        })
    for e in out:
        e["chart_metric"] = _mark_fronts(e["candidates"])
    out.sort(key=lambda e: (e["started_at"] or "", e["id"] if isinstance(e["id"], (int, float)) else 0), reverse=True)
    return out[:MAX_EXPERIMENTS]


# --- rendering -------------------------------------------------------------------------------------------

def render_try(exps: list[dict[str, Any]]) -> str:
    from .html import Col, cell, empty, esc, f_bytes, f_num, f_pct, f_tick, table

    o = ['<section id="try"><h2><code>try</code> experiments</h2>']
    if not exps:
        o.append(empty("no `sizeup try` experiments in the history yet: `sizeup try MODEL MODEL --on .` runs the "
                       "same workload on every candidate"))
        return "".join(o) + "</section>"
    o.append("<p>Every candidate scored exactly the same bytes (bits per byte, lower is better) and the same "
             "function-completion tasks (pass@1), with speed and memory measured in the same run.</p>")
    for i, g in enumerate(exps):
        c0 = g["corpus"]
        corpus = " ".join(x for x in (c0.get("name") or "?", f"({f_bytes(c0['bytes'])})" if c0.get("bytes") else "") if x)
        st = g["settings"]
        bits = [f"experiment {g['id']}", g["started_at"] or "", f"corpus {corpus}"]
        if st.get("tasks"):
            bits.append(f"tasks {st['tasks']}" + (f" ({st['n_tasks']:g})" if st.get("n_tasks") else ""))
        if g["interrupted"]:
            bits.append("interrupted")
        o.append(f'<h3 id="try-{i}">{esc(" · ".join(b for b in bits if b))}</h3>')
        if c0.get("note"):
            o.append(f'<p class="muted">{esc(c0["note"])}</p>')
        cols = [Col("candidate"), Col("quant"), Col("status"), Col("bits/byte", True), Col("95% CI"),
                Col("pass@1", True), Col("tg tok/s", True), Col("tg est.", True), Col("pp tok/s", True),
                Col("TTFT s", True), Col("load s", True), Col("peak RSS", True), Col("RSS est.", True),
                Col("RSS err", True), Col("VRAM", True), Col("front")]
        rows = []
        for c in g["candidates"]:
            ci = (f"{c['bpb_ci_low']:.3f}–{c['bpb_ci_high']:.3f}"
                  if c["bpb_ci_low"] is not None and c["bpb_ci_high"] is not None else "-")
            p1 = c["pass_at_1"]
            p1t = "-" if p1 is None else f"{100 * p1:.0f}%" + (
                f" ({c['tasks_passed']:g}/{c['tasks_total']:g})" if c["tasks_passed"] is not None and c["tasks_total"] else "")
            fronts = ", ".join(n for n, k in (("speed", "front_speed"), ("memory", "front_memory")) if c.get(k))
            ok = c["status"] in (None, "ok")
            status = (c["status"] or "ok") if ok else f"{c['status']}: {c['error'] or ''}"
            quant = (c["quant"] or "") + (f" (from {c['derived_from']})" if c["derived_from"] else "")
            rows.append([cell(c["label"] or c["model"], cls="nw"), cell(quant), cell(status, cls="" if ok else "bad"),
                         cell(f_num(c["bpb"], 4), c["bpb"]), cell(ci), cell(p1t, p1),
                         cell(f_num(c["tg"]), c["tg"]), cell(f_num(c["predicted"]["tg"]), c["predicted"]["tg"]),
                         cell(f_num(c["pp"]), c["pp"]), cell(f_num(c["ttft"]), c["ttft"]), cell(f_num(c["load"]), c["load"]),
                         cell(f_bytes(c["rss_peak"]), c["rss_peak"]),
                         cell(f_bytes(c["predicted"]["rss"]), c["predicted"]["rss"]),
                         cell(f_pct(c["error_pct"]["rss"]), c["error_pct"]["rss"]),
                         cell(f_bytes(c["vram_peak"]), c["vram_peak"]), cell(fronts)])
        o.append(table(cols, rows, f"try-table-{i}"))
        metric = g.get("chart_metric")
        charts = []
        if metric:
            yaxis = (svg.Axis("bits per byte (lower is better)", False, f_tick) if metric == "bpb"
                     else svg.Axis("pass@1, % (higher is better)", False, f_tick))
            for xkey, xaxis, front_key in (
                ("tg", svg.Axis("generation tok/s (higher is better)", False, f_tick), "front_speed"),
                ("rss_peak", svg.Axis("peak memory, MiB (lower is better)", False, f_tick), "front_memory"),
            ):
                pts = []
                for c in g["candidates"]:
                    x, y = c[xkey], c[metric]
                    if x is None or y is None or c["status"] not in (None, "ok"):
                        continue
                    tip = (f"{c['label']}: {f_num(c['bpb'], 4)} bits/byte"
                           + (f", pass@1 {100 * c['pass_at_1']:.0f}%" if c["pass_at_1"] is not None else "")
                           + f", {f_num(c['tg'])} tok/s, {f_bytes(c['rss_peak'])} peak")
                    pts.append(svg.Point(x / 2**20 if xkey == "rss_peak" else x, y * 100 if metric == "pass_at_1" else y,
                                         label=c["label"] or "?", tip=tip, front=bool(c.get(front_key))))
                if pts:
                    charts.append(svg.scatter(pts, xaxis, yaxis,
                                              title=f"Quality vs {'speed' if xkey == 'tg' else 'memory'} (experiment {g['id']})",
                                              chart_id=f"chart-try-{i}-{xkey}", front_line=True))
        if charts:
            o.append('<div class="charts">' + "".join(charts) + "</div>")
        v = g["verdict"]
        items = list(v["lines"])  # the verdict in plain words; else built from its parts
        if not items:
            items = list(v["steps"])
            if v.get("best") and v["best"].get("label"):
                items.append(f"Best choice: {v['best']['label']}"
                             + (f" ({v['best']['reason']})" if v["best"].get("reason") else ""))
        if items:
            o.append('<div class="verdict"><ul>' + "".join(f"<li>{esc(x)}</li>" for x in dict.fromkeys(items) if x)
                     + "</ul></div>")
    return "".join(o) + "</section>"
