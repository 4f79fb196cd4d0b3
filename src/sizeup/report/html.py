"""Render the collected report data (:mod:`.collect`) as ONE self-contained HTML file.

Inline CSS, inline script, inline SVG: the file opens offline from ``file://`` and makes no network
request (no fonts, images, scripts or styles from elsewhere; a Content-Security-Policy forbids them
as a second line of defence). Every string that comes from a model, a file, a server or the history
is escaped with :func:`html.escape` before it is written, in text and in attributes alike; the data
block (``<script type="application/json">``) escapes ``<``, ``>``, ``&`` and U+2028/2029 as JSON
``\\uXXXX`` sequences so no content can close the script element or open a comment.
"""

from __future__ import annotations

import json
import math
from html import escape
from typing import Any, Iterable

from ..units import fmt_bytes, fmt_count
from . import svg
from .assets import CSS, JS

CSP = ("default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:; "
       "connect-src 'none'; font-src 'none'; form-action 'none'; base-uri 'none'")


def esc(v: Any) -> str:
    return escape("" if v is None else str(v), quote=True)


def script_json(data: Any) -> str:
    """JSON safe to place inside ``<script type="application/json">``: no ``</script>``, no ``<!--``,
    no raw U+2028/2029, and only finite numbers."""
    s = json.dumps(data, ensure_ascii=False, allow_nan=False, sort_keys=True, default=str)
    return (s.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


# --- number formatting --------------------------------------------------------------------------------

def f_num(v: float | None, digits: int = 3) -> str:
    if v is None:
        return "-"
    if v == 0:
        return "0"
    a = abs(v)
    if a >= 1000:
        return f"{v:,.0f}"
    if a >= 100:
        return f"{v:.0f}"
    if a >= 10:
        return f"{v:.1f}"
    return f"{v:.{digits}g}"


def f_tick(v: float) -> str:
    """An axis tick label: 20, 0.05, 1,500."""
    return f"{v:,.0f}" if abs(v) >= 10_000 else f"{v:g}"


def f_pct(v: float | None) -> str:
    return "-" if v is None else f"{v:+.0f}%"


def f_bytes(v: float | None) -> str:
    return "-" if v is None else fmt_bytes(v)


# --- tables ------------------------------------------------------------------------------------------

class Col:
    def __init__(self, title: str, num: bool = False, wrap: bool = False, tip: str = "") -> None:
        self.title, self.num, self.wrap, self.tip = title, num, wrap, tip


def cell(text: Any, v: float | None = None, cls: str = "") -> tuple[str, float | None, str]:
    """A table cell: escaped display text, numeric sort value, extra class."""
    return esc(text), v, cls


def raw_cell(html_text: str, v: float | None = None, cls: str = "") -> tuple[str, float | None, str]:
    """A cell whose HTML is already built from escaped parts."""
    return html_text, v, cls


def table(cols: list[Col], rows: Iterable[list[tuple[str, float | None, str]]], table_id: str,
          caption: str = "") -> str:
    o = [f'<div class="tablewrap"><table class="sortable" id="{esc(table_id)}">']
    if caption:
        o.append(f"<caption class=\"muted\">{esc(caption)}</caption>")
    o.append("<thead><tr>")
    for c in cols:
        title = f' title="{esc(c.tip)}"' if c.tip else ""
        ncls = ' class="n"' if c.num else ""
        o.append(f'<th data-type="{"num" if c.num else "text"}"{ncls}{title}>'
                 f'<button type="button">{esc(c.title)}</button></th>')
    o.append("</tr></thead><tbody>")
    for r in rows:
        o.append("<tr>")
        for c, (text, v, cls) in zip(cols, r):
            classes = " ".join(x for x in ("n" if c.num else "", "wrap" if c.wrap else "", cls) if x)
            dv = f' data-v="{v:.10g}"' if v is not None and math.isfinite(v) else ""
            cattr = f' class="{classes}"' if classes else ""
            o.append(f'<td{cattr}{dv}>{text}</td>')
        o.append("</tr>")
    o.append("</tbody></table></div>")
    return "".join(o)


def card(k: str, v: Any, ident: str = "") -> str:
    i = f' id="{esc(ident)}"' if ident else ""
    return f'<div class="card"><div class="k">{esc(k)}</div><div class="v"{i}>{esc(v)}</div></div>'


def empty(msg: str) -> str:
    return f'<p class="empty">{esc(msg)}</p>'


# --- sections ----------------------------------------------------------------------------------------

def machine_section(m: dict[str, Any]) -> str:
    cpu = m.get("cpu") or {}
    mem = m.get("memory") or {}
    bw = m.get("cpu_bandwidth_gbs")
    o = ['<section id="machine"><h2>This machine</h2>']
    if m.get("what_if"):
        o.append('<p class="bad">What-if hardware: these figures describe a machine given on the command line.</p>')
    o.append('<div class="cards">')
    o.append(card("CPU", cpu.get("model") or "unknown", "m-cpu"))
    o.append(card("cores (physical / logical)", f"{cpu.get('physical_cores')} / {cpu.get('logical_cores')}", "m-cores"))
    o.append(card("RAM total", f_bytes(mem.get("total")), "m-ram"))
    o.append(card("RAM available", f_bytes(mem.get("available")), "m-ram-free"))
    o.append(card("swap", f_bytes(mem.get("swap_total")), "m-swap"))
    o.append(card("CPU memory bandwidth", f"{bw:.1f} GB/s ({m.get('bandwidth_source') or '?'})" if bw else "unknown",
                  "m-bw"))
    o.append(card("GPUs", str(len(m.get("gpus") or [])) if m.get("gpus") else "none", "m-ngpu"))
    o.append(card("unified memory", "yes" if m.get("unified_memory") else "no"))
    o.append(card("OS", m.get("os") or "?"))
    o.append(card("hardware fingerprint", m.get("fingerprint") or "?", "m-fp"))
    o.append("</div>")
    feats = cpu.get("features") or []
    if feats:
        o.append('<div class="tags" id="m-features">' + "".join(f'<span class="tag">{esc(f)}</span>' for f in feats[:64])
                 + "</div>")
    gpus = m.get("gpus") or []
    if gpus:
        cols = [Col("GPU"), Col("backend"), Col("VRAM total", True), Col("VRAM free", True), Col("bandwidth GB/s", True)]
        rows = [[cell(g.get("name")), cell(g.get("backend") or g.get("vendor")),
                 cell(f_bytes(g.get("vram_total")), g.get("vram_total")),
                 cell(f_bytes(g.get("vram_free")), g.get("vram_free")),
                 cell(f_num(g.get("bandwidth_gbs")), g.get("bandwidth_gbs"))] for g in gpus]
        o.append(table(cols, rows, "gpus"))
    notes = m.get("notes") or []
    if notes:
        o.append("<ul>" + "".join(f"<li class=\"muted\">{esc(n)}</li>" for n in notes[:20]) + "</ul>")
    o.append("</section>")
    return "".join(o)


def ranking_section(rk: dict[str, Any] | None) -> str:
    o = ['<section id="ranking"><h2>The ranking</h2>']
    if rk is None:
        o.append(empty("ranking not computed (--no-ranking)"))
        return "".join(o) + "</section>"
    speed = esc(rk.get("calibration")) if rk.get("calibrated") else "estimated (run <code>sizeup bench</code> to calibrate)"
    task = f' for <strong>{esc(rk["task"])}</strong>' if rk.get("task") else ""
    o.append(f'<p>What runs here{task} at <strong id="rank-ctx">{esc(rk["ctx"])}</strong> tokens of context: '
             f'<strong>{esc(rk["n_fitting"])}</strong> of {esc(rk["n_considered"])} catalog models fit '
             f'(best quantization that fits, ranked as <code>sizeup fit</code> does); speed {speed}.</p>')
    if not rk["rows"]:
        o.append(empty("no catalog model fits this machine at this context"))
        return "".join(o) + "</section>"
    cols = [Col("#", True), Col("model"), Col("params", True), Col("quant"), Col("memory", True), Col("runs on"),
            Col("tok/s (est.)", True, tip="estimated decode speed"), Col("fit"), Col("score", True), Col("why", wrap=True), Col("command")]
    rows = []
    for r in rk["rows"]:
        params = fmt_count(r["params"]) if r["params"] else "-"
        if r.get("active_params") and r["params"] and r["active_params"] < r["params"]:
            params += f" ({fmt_count(r['active_params'])} act.)"
        where = r["where"] + (f" ({r['n_gpu_layers']} layers)" if r["where"] == "GPU+CPU" else "")
        name = esc(r["id"]) + (f' <span class="muted">+{len(r["variants"])} same size</span>' if r["variants"] else "")
        rows.append([cell(r["rank"], r["rank"]), raw_cell(name), cell(params, r["params"]), cell(r["quant"]),
                     cell(f_bytes(r["memory_needed"]), r["memory_needed"]), cell(where),
                     cell(f_num(r["decode_tps"]), r["decode_tps"]),
                     cell(r["fit"], cls=f"fit-{esc(r['fit'])}"), cell(f_num(r["score"]), r["score"]),
                     cell(r["reason"]),
                     raw_cell(f"<code>{esc(r['command'])}</code>" if r.get("command") else "-", cls="nw")])
    o.append(table(cols, rows, "ranking-table"))
    return "".join(o) + "</section>"


def _median(vals: list[float]) -> float | None:
    v = sorted(vals)
    if not v:
        return None
    n = len(v)
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2


def estimates_section(bench: list[dict[str, Any]], failed: list[dict[str, Any]], hist: dict[str, Any]) -> str:
    o = ['<section id="estimates"><h2>Estimates against measurements</h2>']
    if not hist.get("found"):
        o.append(empty(f"no history database at {hist.get('db')}: run `sizeup bench MODEL.gguf` to measure a model"))
        return "".join(o) + "</section>"
    if not bench:
        o.append(empty("no finished `sizeup bench` runs in the history yet: run `sizeup bench MODEL.gguf`"))
        return "".join(o) + "</section>"
    n_try = sum(1 for b in bench if b.get("kind") == "try")
    o.append(f"<p>{len(bench) - n_try} benchmark run{'s' if len(bench) - n_try != 1 else ''}"
             + (f" and {n_try} <code>try</code> candidate{'s' if n_try != 1 else ''}" if n_try else "")
             + f" of {len({(b['model'], b['quant']) for b in bench})} model file(s); each prediction was made before "
             "its run. Error = (predicted − measured) / measured.</p>")
    o.append('<div class="cards">')
    for key, title in (("tg", "generation tok/s"), ("pp", "prompt tok/s"), ("rss", "memory (RSS)")):
        errs = [abs(b["error_pct"][key]) for b in bench if b.get("error_pct", {}).get(key) is not None]
        med = _median(errs)
        o.append(card(f"median |error| {title}", f"{med:.0f}% over {len(errs)} runs" if med is not None else "-",
                      f"err-{key}"))
    o.append("</div>")
    series = lambda b: f"{b['model']} {b['quant'] or ''}".strip()  # noqa: E731
    charts = []
    for key, mkey, title, fmt in (
        ("tg", "tg", "Generation speed: predicted vs measured (tok/s)", lambda v: f_num(v)),
        ("pp", "pp", "Prompt processing: predicted vs measured (tok/s)", lambda v: f_num(v)),
        ("rss", "rss_model", "Memory: predicted vs measured RSS (MiB)", lambda v: f_num(v)),
    ):
        pts = []
        for b in bench:
            p, m = b["predicted"].get(key), b["measured"].get(mkey)
            if p is None or m is None:
                continue
            unit = " tok/s"
            if key == "rss":  # drawn in MiB
                p, m, unit = p / 2**20, m / 2**20, " MiB"
            tip = (f"{'try run' if b.get('kind') == 'try' else 'run'} {b['run']}: {series(b)} [{b['config']}]\npredicted {fmt(p)}{unit}, measured {fmt(m)}{unit} "
                   f"({f_pct(b['error_pct'].get(key))})" + (" (calibrated)" if key != "rss" and b["predicted"]["calibrated"] else ""))
            pts.append(svg.Point(p, m, label=f"#{b['run']}", tip=tip, series=series(b)))
        if pts:
            charts.append(svg.scatter(pts, svg.Axis("predicted", True, f_tick), svg.Axis("measured", True, f_tick),
                                      title=title, chart_id=f"chart-{key}", diagonal=True))
    o.append('<div class="charts">' + "".join(charts) + "</div>" if charts else empty("no run has both a prediction and a measurement"))
    cols = [Col("run", True), Col("from"), Col("date"), Col("model"), Col("quant"), Col("config"),
            Col("here", tip="measured on this machine"),
            Col("tg meas.", True), Col("tg pred.", True), Col("tg err", True),
            Col("pp meas.", True), Col("pp pred.", True), Col("pp err", True),
            Col("RSS meas.", True), Col("RSS pred.", True), Col("RSS err", True),
            Col("TTFT s", True), Col("load s", True)]
    rows = []
    for b in reversed(bench):
        m, p, e = b["measured"], b["predicted"], b["error_pct"]
        rows.append([cell(b["run"], b["run"]), cell(b.get("kind") or "bench"),
                     cell((b["started_at"] or "")[:16].replace("T", " "), cls="nw"),
                     cell(b["model"], cls="nw"), cell(b["quant"]), cell(b["config"], cls="nw"), cell("yes" if b["this_machine"] else "no"),
                     cell(f_num(m["tg"]), m["tg"]), cell(f_num(p["tg"]), p["tg"]), cell(f_pct(e.get("tg")), e.get("tg")),
                     cell(f_num(m["pp"]), m["pp"]), cell(f_num(p["pp"]), p["pp"]), cell(f_pct(e.get("pp")), e.get("pp")),
                     cell(f_bytes(m["rss_model"]), m["rss_model"]), cell(f_bytes(p["rss"]), p["rss"]),
                     cell(f_pct(e.get("rss")), e.get("rss")),
                     cell(f_num(m["ttft"]), m["ttft"]), cell(f_num(m["load"]), m["load"])])
    o.append(table(cols, rows, "bench-table"))
    if failed:
        o.append(f"<h3>Runs that did not finish ({len(failed)})</h3>")
        cols = [Col("run", True), Col("date"), Col("model"), Col("config"), Col("status"), Col("error", wrap=True)]
        rows = [[cell(b["run"], b["run"]), cell((b["started_at"] or "")[:16].replace("T", " ")),
                 cell(f"{b['model']} {b['quant'] or ''}".strip()), cell(b["config"]), cell(b["status"], cls="bad"),
                 cell(b["error"])] for b in reversed(failed[-200:])]
        o.append(table(cols, rows, "bench-failed"))
    return "".join(o) + "</section>"


def quality_section(mats: list[dict[str, Any]]) -> str:
    o = ['<section id="quality"><h2>Quantization quality</h2>']
    if not mats:
        o.append(empty("no quality runs in the history yet: `sizeup quality --matrix MODEL.gguf --to Q8_0,Q4_K_M` "
                       "measures every type against the model"))
        return "".join(o) + "</section>"
    o.append("<p>KL divergence and perplexity of each quantized file against its reference, on the same tokens "
             "(lower is better); the Pareto front holds the types no other type beats on both size and KLD.</p>")
    for i, g in enumerate(mats):
        ref = g.get("reference")
        head = (f"reference {ref.get('name')} ({ref.get('quant') or '?'})" if ref else "perplexity only (no reference)")
        o.append(f'<h3 id="qm-{i}">{esc(head)} · corpus {esc(g.get("corpus"))} · ctx {esc(f_num(g.get("ctx")))}</h3>')
        cols = [Col("type"), Col("file"), Col("size", True), Col("mean KLD", True), Col("KLD p99", True),
                Col("perplexity", True), Col("ppl ratio", True), Col("same top token", True), Col("tg tok/s", True),
                Col("front"), Col("run", True)]
        rows, pts = [], []
        for r in g["rows"]:
            size = r["bytes"] if r["bytes"] is not None else r["size"]
            st = r["same_top"]
            rows.append([cell(r["quant"]), cell(r["model"]), cell(f_bytes(size), size),
                         cell(f_num(r["kld_mean"], 4), r["kld_mean"]), cell(f_num(r["kld_p99"], 4), r["kld_p99"]),
                         cell(f_num(r["ppl"], 4), r["ppl"]), cell(f_num(r["ppl_ratio"], 4), r["ppl_ratio"]),
                         cell(f"{100 * st:.1f}%" if st is not None else "-", st), cell(f_num(r["tg"]), r["tg"]),
                         cell("yes" if r["on_front"] else ""), cell(r["run"], r["run"])])
            if size is not None and r["kld_mean"] is not None:
                pts.append(svg.Point(size / 2**20, max(r["kld_mean"], 1e-6), label=r["quant"] or r["model"] or "?",
                                     tip=f"{r['quant']} ({r['model']}): {f_bytes(size)}, mean KLD {f_num(r['kld_mean'], 4)}"
                                         f", perplexity {f_num(r['ppl'], 4)}", series="", front=r["on_front"]))
        o.append(table(cols, rows, f"quality-table-{i}"))
        if pts:
            o.append('<div class="charts">' + svg.scatter(
                pts, svg.Axis("file size (MiB)", False, f_tick), svg.Axis("mean KLD", True, f_tick),
                title=f"Quality vs size, {head}", chart_id=f"chart-quality-{i}", front_line=True) + "</div>")
    return "".join(o) + "</section>"


def try_section(exps: list[dict[str, Any]]) -> str:
    from .tryexp import render_try

    return render_try(exps)


# --- the page ----------------------------------------------------------------------------------------

def render(data: dict[str, Any]) -> str:
    """The whole report as one HTML string."""
    hist = data.get("history") or {}
    sections = [
        machine_section(data.get("machine") or {}),
        ranking_section(data.get("ranking")),
        estimates_section(data.get("bench") or [], data.get("bench_failed") or [], hist),
        quality_section(data.get("quality_matrices") or []),
        try_section(data.get("try_experiments") or []),
    ]
    toc = "".join(f'<a href="#{a}">{esc(t)}</a>' for a, t in (
        ("machine", "machine"), ("ranking", "ranking"), ("estimates", "estimates vs measurements"),
        ("quality", "quantization quality"), ("try", "try experiments")))
    kinds = ", ".join(f"{n} {k}" for k, n in sorted((hist.get("by_kind") or {}).items()))
    sub = (f"generated {data.get('generated_at')} by sizeup {data.get('sizeup_version')} · history "
           f"{hist.get('db')}" + (f" ({hist.get('n_runs')} runs: {kinds})" if hist.get("found") else " (not found)"))
    return "".join([
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">",
        f'<meta http-equiv="Content-Security-Policy" content="{esc(CSP)}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta name="referrer" content="no-referrer">',
        "<title>sizeup report</title>",
        f"<style>{CSS}</style></head><body>",
        f'<header class="top"><h1>sizeup report</h1><p>{esc(sub)}</p></header>',
        f'<nav class="toc">{toc}</nav><main>',
        *sections,
        "</main>",
        '<footer>All the data behind this page is in the <code>application/json</code> block '
        '<code>#sizeup-data</code> (the same as <code>sizeup report --json</code>).</footer>',
        '<div id="tip" role="tooltip" hidden></div>',
        f'<script type="application/json" id="sizeup-data">{script_json(data)}</script>',
        f"<script>{JS}</script>",
        "</body></html>\n",
    ])
