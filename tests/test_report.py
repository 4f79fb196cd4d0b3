"""``sizeup report``: the HTML file, opened in a real headless Chromium with the network shut.

The history the report draws is made by the real commands in child processes: ``sizeup bench`` on
both real test models (tiny workloads), ``sizeup quality --matrix`` on SmolLM2 (two types, few
chunks) and, when the command is there, ``sizeup try`` on both models. The browser is Debian's
``chromium`` driven over the DevTools protocol on a pipe (tests/cdp_browser.py); the page must load
with no console error and no request but the file itself.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import io
import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cdp_browser import Browser, find_chromium
from sizeup.history import HistoryDB
from sizeup.report.collect import pareto
from sizeup.report.html import f_num, render, script_json
from sizeup.report.svg import Axis, Point, scatter, ticks
from sizeup.units import fmt_bytes

SRC = str(Path(__file__).resolve().parents[1] / "src")
TINY = ["-p", "32", "-n", "8", "-r", "2", "-t", "1", "--ctx", "512"]
HOSTILE = [
    "<script>alert(1)</script>",
    '"><img src=x onerror="window.__pwned=1;alert(2)">',
    "</script><!-- \u2028\u2029 <svg onload=alert(3)>",
    "' onmouseover='window.__pwned=1' x='",
]
HAVE_TRY = importlib.util.find_spec("sizeup.cli.commands.try_models") is not None


def _env(**extra: str) -> dict:
    env = dict(os.environ)
    env["COLUMNS"] = "200"
    env["PYTHONPATH"] = SRC + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.update(extra)
    return env


def cli(*args: str, timeout: float = 600, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sizeup", *args], capture_output=True, text=True, env=_env(**env),
                          timeout=timeout)


def embedded_data(html_text: str) -> dict:
    m = re.search(r'<script type="application/json" id="sizeup-data">(.*?)</script>', html_text, re.S)
    assert m, "no data block"
    return json.loads(m.group(1))


# --- the history, made by the real commands ------------------------------------------------------------

@pytest.fixture(scope="module")
def history(tmp_path_factory, smollm2_path, gemma3_path):
    d = tmp_path_factory.mktemp("report")
    db = d / "history.db"
    for model in (smollm2_path, gemma3_path):
        r = cli("bench", str(model), *TINY, "--db", str(db), "--json")
        assert r.returncode == 0, r.stderr
    r = cli("quality", "--matrix", str(smollm2_path), "--to", "Q8_0,Q4_0", "--out", str(d / "q"), "--ctx", "128",
            "--chunks", "2", "--threads", "2", "--no-speed", "--json",
            SIZEUP_HISTORY_DB=str(db), SIZEUP_QUALITY_CACHE=str(d / "qcache"))
    assert r.returncode == 0, r.stderr
    tried = None
    if HAVE_TRY:
        corpus = d / "corpus.txt"
        corpus.write_text((Path(SRC) / "sizeup" / "history.py").read_text()[:40000])
        r = cli("try", str(smollm2_path), str(gemma3_path), "--corpus", str(corpus), "--tasks-limit", "2",
                "--max-new-tokens", "48", "--chunks", "2", "--span-bytes", "256", "--context-bytes", "256",
                "--ctx", "512", "-p", "32", "-n", "8", "-r", "1", "-t", "1", "--no-chart", "--db", str(db),
                "--json", "--yes")
        assert r.returncode == 0, r.stderr
        tried = json.loads(r.stdout)
    return {"dir": d, "db": db, "try": tried}


@pytest.fixture(scope="module")
def report(history):
    out = history["dir"] / "report.html"
    r = cli("report", "--db", str(history["db"]), "-o", str(out))
    assert r.returncode == 0, r.stderr
    assert r.stdout == ""  # progress and the summary line go to stderr
    text = out.read_text(encoding="utf-8")
    return {"path": out, "text": text, "data": embedded_data(text)}


@pytest.fixture(scope="module")
def browser():
    exe = find_chromium()
    if exe is None:
        pytest.fail("chromium not found: scripts/test installs Debian's chromium when it can (as root); "
                    "otherwise install it or set SIZEUP_CHROMIUM")
    b = Browser(exe)
    yield b
    b.close()


def _png_stats(png: bytes) -> tuple[float, int, tuple[int, int]]:
    from PIL import Image

    img = Image.open(io.BytesIO(png)).convert("RGB")
    a = np.asarray(img, dtype=np.float64)
    colours = len(np.unique(a.reshape(-1, 3)[:: 7], axis=0))
    return float(a.std()), colours, img.size


def _table(page, table_id: str) -> tuple[list[str], list[list[tuple[str, str | None]]]]:
    heads = page.js(f"Array.from(document.querySelectorAll('#{table_id} thead th')).map(th => th.textContent)")
    rows = page.js(f"Array.from(document.querySelectorAll('#{table_id} tbody tr')).map(tr => "
                   "Array.from(tr.cells).map(td => [td.textContent, td.getAttribute('data-v')]))")
    return heads, rows


def _close(a: str | None, b: float | None) -> bool:
    if b is None:
        return a is None
    return a is not None and math.isclose(float(a), b, rel_tol=1e-8, abs_tol=1e-12)


# --- pure parts ---------------------------------------------------------------------------------------

def test_script_json_cannot_break_out_and_round_trips():
    data = {"names": HOSTILE, "n": 1.5, "nested": {"k<!--": ["</SCRIPT >", "a\u2028b"]}}
    s = script_json(data)
    low = s.lower()
    assert "</script" not in low and "<!--" not in s and "<" not in s and ">" not in s
    assert "\u2028" not in s and "\u2029" not in s
    assert json.loads(s) == data


def test_pareto_respects_directions():
    pts = [(10.0, 1.0), (20.0, 1.2), (5.0, 0.9), (20.0, 0.8), (None, 0.1)]
    assert sorted(pareto(pts, maximize_x=True, maximize_y=False)) == [3]  # fastest and best
    assert sorted(pareto(pts, maximize_x=False, maximize_y=False)) == [2, 3]  # smallest vs best
    assert pareto([], True, False) == []


def test_ticks_and_scatter_escape_everything():
    assert ticks(20, 60, True)[0] >= 20 and len(ticks(20, 60, True)) >= 4
    assert ticks(1, 1000, True) == [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000]
    svg_text = scatter([Point(1, 2, label=HOSTILE[0], tip=HOSTILE[1], series=HOSTILE[3]), Point(math.nan, 1)],
                       Axis(HOSTILE[2]), Axis("y", True), title=HOSTILE[0], chart_id='x"y', diagonal=True)
    assert "<script" not in svg_text and "<img" not in svg_text and "<svg onload" not in svg_text
    assert "onmouseover='" not in svg_text
    assert "1 point without a plottable value left out" in svg_text


def test_cli_json_collects_bench_and_quality(history):
    r = cli("report", "--db", str(history["db"]), "--json", "--no-ranking")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["ranking"] is None and d["history"]["found"] and d["history"]["by_kind"]["llama.cpp"] == 2
    n_try = 2 if history["try"] is not None else 0
    assert d["history"]["by_kind"].get("try", 0) == n_try
    assert len(d["bench"]) == 2 + n_try  # bench runs and try candidates: both have a prediction and a measurement
    assert sorted(b["kind"] for b in d["bench"]) == ["bench"] * 2 + ["try"] * n_try
    for b in d["bench"]:
        assert b["this_machine"] and b["measured"]["tg"] > 0 and b["predicted"]["tg"] > 0
        assert b["measured"]["rss_model"] > 0 and b["predicted"]["rss"] > 0
        assert b["error_pct"]["rss"] == pytest.approx(100 * (b["predicted"]["rss"] - b["measured"]["rss_model"])
                                                      / b["measured"]["rss_model"])
    (mat,) = d["quality_matrices"]
    kld = {row["quant"]: row["kld_mean"] for row in mat["rows"]}
    assert set(kld) == {"Q8_0", "Q4_0"} and 0 < kld["Q8_0"] < kld["Q4_0"]
    assert mat["reference"]["quant"] == "Q4_1" and mat["corpus"] == "prose" and mat["ctx"] == 128
    assert all(row["on_front"] for row in mat["rows"])  # smaller and worse vs larger and better
    if history["try"] is not None:
        (exp,) = d["try_experiments"]
        assert exp["id"] == history["try"]["experiment_id"]
        want = history["try"]["candidates"]
        assert [c["label"] for c in exp["candidates"]] == [c["label"] for c in want]
        for c, w in zip(exp["candidates"], want):
            assert c["status"] == w["status"] == "ok" and c["run"] == w["run_id"]
            assert c["bpb"] == w["quality"]["bpb"] and [c["bpb_ci_low"], c["bpb_ci_high"]] == w["quality"]["bpb_ci95"]
            assert c["pass_at_1"] == w["quality"]["pass_at_1"] and c["tasks_total"] == 2
            assert c["tg"] == w["measured"]["tg_tps"] and c["rss_peak"] == w["measured"]["rss_peak_bytes"]
            assert c["predicted"]["rss"] == w["estimate"]["memory"]["rss"]
        assert exp["verdict"]["lines"] == history["try"]["verdict"]["lines"]


def test_cli_errors_are_one_line(tmp_path):
    r = cli("report", "--db", str(tmp_path / "nope.db"), "-o", str(tmp_path / "r.html"))
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "no history database" in r.stderr
    r = cli("report", "--no-ranking", "-o", str(tmp_path), SIZEUP_HISTORY_DB=str(tmp_path / "none.db"))
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "is a directory" in r.stderr
    assert not (tmp_path / "none.db").exists()


def test_without_history_the_report_says_so(tmp_path):
    out = tmp_path / "r.html"
    r = cli("report", "--no-ranking", "-o", str(out), SIZEUP_HISTORY_DB=str(tmp_path / "none.db"))
    assert r.returncode == 0, r.stderr
    text = out.read_text()
    assert "no history database at" in text and not (tmp_path / "none.db").exists()
    assert embedded_data(text)["bench"] == []


# --- in the browser ------------------------------------------------------------------------------------

def test_report_in_chromium_desktop(report, browser, tmp_path):
    data = report["data"]
    page = browser.open(report["path"].as_uri(), width=1280, height=900)
    try:
        assert page.errors() == []
        assert page.requests() == [report["path"].as_uri()]  # nothing but the file itself
        titles = page.js("Array.from(document.querySelectorAll('section > h2')).map(h => h.textContent)")
        assert titles == ["This machine", "The ranking", "Estimates against measurements", "Quantization quality",
                          "try experiments"]
        # the data block is exactly what the page was built from
        assert page.js("JSON.parse(document.getElementById('sizeup-data').textContent)") == data
        m = data["machine"]
        assert page.js("document.getElementById('m-cpu').textContent") == m["cpu"]["model"]
        assert page.js("document.getElementById('m-ram').textContent") == fmt_bytes(m["memory"]["total"])
        # the ranking, in order
        heads, rows = _table(page, "ranking-table")
        assert len(rows) == len(data["ranking"]["rows"]) > 0
        for row, want in zip(rows, data["ranking"]["rows"]):
            assert row[heads.index("model")][0].startswith(want["id"])
            assert _close(row[heads.index("tok/s (est.)")][1], want["decode_tps"])
        # estimates vs measurements: the table and the charts
        heads, rows = _table(page, "bench-table")
        by_run = {int(r[0][0]): r for r in rows}
        assert set(by_run) == {b["run"] for b in data["bench"]}
        for b in data["bench"]:
            row = by_run[b["run"]]
            for col, v in (("tg meas.", b["measured"]["tg"]), ("tg pred.", b["predicted"]["tg"]),
                           ("pp meas.", b["measured"]["pp"]), ("RSS meas.", b["measured"]["rss_model"]),
                           ("RSS pred.", b["predicted"]["rss"]), ("tg err", b["error_pct"]["tg"])):
                assert _close(row[heads.index(col)][1], v), col
            assert row[heads.index("tg meas.")][0] == f_num(b["measured"]["tg"])
        pts = page.js("Array.from(document.querySelectorAll('#chart-tg .pt')).map(g => [+g.dataset.x, +g.dataset.y])")
        want = sorted((b["predicted"]["tg"], b["measured"]["tg"]) for b in data["bench"])
        assert [v for p in sorted(pts) for v in p] == pytest.approx([v for p in want for v in p], rel=1e-5)
        assert page.js("document.querySelectorAll('#chart-tg line.diag').length") == 1
        assert page.js("document.querySelectorAll('#chart-rss .pt').length") == len(data["bench"])
        # the quality matrix
        heads, rows = _table(page, "quality-table-0")
        got = {r[0][0]: float(r[heads.index("mean KLD")][1]) for r in rows}
        assert got == pytest.approx({r["quant"]: r["kld_mean"] for r in data["quality_matrices"][0]["rows"]})
        assert page.js("document.querySelectorAll('#chart-quality-0 .front-pt').length") == 2
        if data["try_experiments"]:
            heads, rows = _table(page, "try-table-0")
            exp = data["try_experiments"][0]
            assert [r[0][0] for r in rows] == [c["label"] for c in exp["candidates"]]
            for r, c in zip(rows, exp["candidates"]):
                assert _close(r[heads.index("bits/byte")][1], c["bpb"])
                assert _close(r[heads.index("pass@1")][1], c["pass_at_1"])
                assert _close(r[heads.index("peak RSS")][1], c["rss_peak"])
            assert page.js("document.querySelectorAll('#chart-try-0-tg .pt').length") == len(exp["candidates"])
            assert page.js("document.querySelectorAll('#chart-try-0-rss_peak .pt').length") == len(exp["candidates"])
            verdict = page.js("Array.from(document.querySelectorAll('#try .verdict li')).map(li => li.textContent)")
            assert verdict == exp["verdict"]["lines"] and verdict
        # a real picture, not a blank page
        png = page.screenshot(full=True)
        (tmp_path / "desktop.png").write_bytes(png)
        std, colours, (w, h) = _png_stats(png)
        assert w == 1280 and h > 1500 and std > 20 and colours > 40
    finally:
        page.close()


def test_tables_sort_on_header_click(report, browser):
    page = browser.open(report["path"].as_uri())
    try:
        def col(table_id: str, name: str) -> list[float | None]:
            heads, rows = _table(page, table_id)
            i = heads.index(name)
            return [None if r[i][1] is None else float(r[i][1]) for r in rows]

        def click(table_id: str, name: str) -> str:
            return page.js(f"""(() => {{ const th = Array.from(document.querySelectorAll('#{table_id} thead th'))
                .find(t => t.textContent === {json.dumps(name)}); th.querySelector('button').click();
                return th.getAttribute('aria-sort'); }})()""")

        assert click("bench-table", "tg meas.") == "ascending"
        v = col("bench-table", "tg meas.")
        assert v == sorted(v) and len(set(v)) > 1
        assert click("bench-table", "tg meas.") == "descending"
        assert col("bench-table", "tg meas.") == sorted(v, reverse=True)
        before = col("ranking-table", "params")
        assert click("ranking-table", "params") == "ascending"
        after = col("ranking-table", "params")
        assert after == sorted(before) and after != before  # the ranking is not in size order
        # text columns sort too
        click("quality-table-0", "type")
        heads, rows = _table(page, "quality-table-0")
        assert [r[0][0] for r in rows] == ["Q4_0", "Q8_0"]
        assert page.errors() == []
    finally:
        page.close()


def test_chart_points_show_values_on_hover(report, browser):
    page = browser.open(report["path"].as_uri())
    try:
        page.js("document.getElementById('chart-tg').scrollIntoView()")
        # let the scroll (which hides the tooltip) land before hovering
        page.js("new Promise(r => setTimeout(() => requestAnimationFrame(() => requestAnimationFrame(r)), 50))")
        box = page.js("""(() => { const r = document.querySelector('#chart-tg .pt circle').getBoundingClientRect();
            return [r.left + r.width / 2, r.top + r.height / 2]; })()""")
        assert page.js("document.getElementById('tip').hidden") is True
        page.mouse_move(*box)
        tip = page.js("[document.getElementById('tip').hidden, document.getElementById('tip').textContent]")
        want = page.js("document.querySelector('#chart-tg .pt').dataset.tip")
        assert tip == [False, want] and "predicted" in want and "measured" in want
        page.mouse_move(2, 2)
        assert page.js("document.getElementById('tip').hidden") is True
        assert page.js("document.querySelector('#chart-tg .pt title').textContent") == want  # native hover text
        assert page.errors() == []
    finally:
        page.close()


def test_phone_width_has_no_horizontal_page_overflow(report, browser, tmp_path):
    page = browser.open(report["path"].as_uri(), width=390, height=844, mobile=True)
    try:
        assert page.js("window.innerWidth") == 390
        assert page.js("document.documentElement.scrollWidth") <= 390
        # wide tables scroll inside their own box instead
        assert page.js("(() => { const w = document.querySelector('#bench-table').parentElement;"
                       " return w.scrollWidth > w.clientWidth && getComputedStyle(w).overflowX === 'auto'; })()")
        assert page.js("document.querySelector('#chart-tg').getBoundingClientRect().width") <= 390
        png = page.screenshot(full=True)
        (tmp_path / "phone.png").write_bytes(png)
        std, colours, (w, _) = _png_stats(png)
        assert w == 390 and std > 20 and colours > 40
        assert page.errors() == []
    finally:
        page.close()


# --- hostile strings -------------------------------------------------------------------------------------

def _hostile_history(db_path: Path) -> None:
    h = HOSTILE
    with HistoryDB(db_path) as db:
        rid = db.start_run("llama.cpp", {"name": h[0], "quant": h[1], "path": h[2], "size": 1000, "hash": h[3]},
                           {"n_threads": h[3], "type_k": h[0], "flash_attn": h[1], "n_ctx": 512},
                           {"speed": {"tg_tps": 10.0, "pp_tps": 100.0, "calibrated": h[0]}, "memory": {"rss": 2e8}})
        db.finish_run(rid, {"tg": {"mean": 12.0, "stddev": 0.1, "n": 2, "unit": h[2]},
                            "pp": {"mean": 90.0, "stddev": 1, "n": 2}, "rss_model": {"mean": 1.9e8, "n": 1}})
        rid = db.start_run("llama.cpp", {"name": h[1], "quant": h[0]}, {"n_threads": 1}, {})
        db.finish_run(rid, None, "failed", error=h[2] + h[0])
        db.record_result("quality", {"name": h[0], "quant": h[1], "size": 5e7, "hash": "q1"}, {"corpus": h[3], "ctx": 128},
                         {"kld_mean": 0.1, "bytes": 5e7, "ppl": 10.0, "same_top": 0.9},
                         {"reference": {"name": h[2], "quant": h[0], "hash": "ref"}})
        db.record_result("quality", {"name": h[3], "quant": h[2], "size": 9e7, "hash": "q2"}, {"corpus": h[3], "ctx": 128},
                         {"kld_mean": 0.01, "bytes": 9e7, "ppl": 9.0, "same_top": 0.99},
                         {"reference": {"name": h[2], "quant": h[0], "hash": "ref"}})
        # a `try` experiment as its document (schema sizeup.try/1) and one known only from its run rows
        if hasattr(db, "start_experiment"):
            eid = db.start_experiment({"name": h[0]}, {"tasks": h[1]})
            cands = [{"index": i, "label": lab, "spec": h[2], "status": "ok" if i < 2 else "failed", "error": h[1],
                      "model": {"name": h[3], "quant": h[0], "derived_from": {"quant": h[1]}},
                      "estimate": {"memory": {"rss": 1e8 * (i + 1)}, "speed": {"tg_tps": 50.0 / (i + 1)}},
                      "measured": {"tg_tps": 40.0 / (i + 1), "rss_peak_bytes": 1.1e8 * (i + 1), "load_s": 0.2},
                      "error_pct": {"rss": -9.0}, "on_front": True,
                      "quality": {"bpb": 1.5 - 0.2 * i, "bpb_ci95": [1.4 - 0.2 * i, 1.6 - 0.2 * i], "pass_at_1": None}}
                     for i, lab in enumerate(h[:3])]
            db.finish_experiment(eid, {"schema": "sizeup.try/1", "experiment_id": eid, "candidates": cands,
                                       "corpus": {"name": h[1], "note": h[2], "bytes": 4096},
                                       "settings": {"tasks": h[0]},
                                       "verdict": {"lines": [h[0], h[1]], "best": {"label": h[2], "reason": h[3]},
                                                   "steps": [{"text": h[3]}]}})
        db.record_result("try", {"name": h[1], "quant": h[2]}, {"corpus": h[0]}, {"bpb": 1.2, "tg": 30.0, "rss_peak": 1e8},
                         {"experiment_id": 987654, "candidate": h[0], "index": 0})


def test_hostile_strings_show_as_text(tmp_path, browser):
    import sizeup
    from sizeup.report import collect

    db = tmp_path / "hostile.db"
    _hostile_history(db)
    hw = sizeup.probe_hardware()
    hw = dataclasses.replace(hw, cpu=dataclasses.replace(hw.cpu, model=HOSTILE[0] + HOSTILE[1]), notes=(HOSTILE[2],))
    data = collect(db, hw=hw, with_ranking=False)
    text = render(data)
    out = tmp_path / "hostile.html"
    out.write_text(text, encoding="utf-8")
    assert "<script>alert" not in text and "<img" not in text and "<svg onload" not in text
    assert text.count("<script") == 2  # the data block and the page's own script
    page = browser.open(out.as_uri())
    try:
        assert page.errors() == []  # no alert dialog, no exception, no blocked load
        assert page.requests() == [out.as_uri()]
        assert page.js("document.querySelectorAll('img').length") == 0
        assert page.js("document.querySelectorAll('script').length") == 2
        assert page.js("document.querySelectorAll('[onerror],[onload],[onmouseover]').length") == 0
        assert page.js("typeof window.__pwned") == "undefined"
        assert page.js("JSON.parse(document.getElementById('sizeup-data').textContent)") == json.loads(
            json.dumps(data))
        body = page.js("document.body.textContent")
        for s in HOSTILE:
            assert s.replace("\u2028", "").replace("\u2029", "")[:12] in body.replace("\u2028", "").replace("\u2029", "")
        assert page.js("document.getElementById('m-cpu').textContent") == HOSTILE[0] + HOSTILE[1]
        n_try = 2 if any(e["source"] == "experiment" for e in data["try_experiments"]) else 1
        assert page.js("document.querySelectorAll('#try h3').length") == n_try
        # hovering every chart point runs the tooltip on the hostile text: still text
        for box in page.js("""Array.from(document.querySelectorAll('svg .pt circle')).map(c => {
                const r = c.getBoundingClientRect(); return [r.left + r.width / 2, r.top + r.height / 2]; })"""):
            if 0 < box[0] < 1280 and 0 < box[1] < 900:
                page.mouse_move(*box)
        assert page.js("document.getElementById('tip').children.length") == 0
        assert page.js("typeof window.__pwned") == "undefined" and page.errors() == []
    finally:
        page.close()
