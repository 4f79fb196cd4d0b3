"""``sizeup try``: the same workload on every candidate model, side by side - the orchestration.

For each candidate (:mod:`.candidates`), in order: predict memory and speed as ``sizeup bench``
does and refuse one predicted not to fit (unless forced); record a ``running`` run of kind ``try``;
measure it in its own child process (:mod:`.measure`: load, speed, TTFT, bits per byte over the
same byte spans, greedy completions); run its completions in the sandbox (:mod:`.sandbox`) against
the hidden tests; commit the row. A crash, OOM kill or timeout costs that row only; Ctrl-C keeps
the finished rows, marks the one in progress ``interrupted`` and the rest ``skipped``. Then the
verdict (:mod:`.verdict`), the chart (:mod:`.chart`) and the experiment record in the history.

The ``try --json`` document (schema ``sizeup.try/1``; a copy lives in /work/notes/try_schema.md)
-------------------------------------------------------------------------------------------------

Where ``try`` results live in the history (SQLite, HistoryDB) in the history (SQLite, HistoryDB)

* Table `experiments` (migration 2 in history.py): one row per `sizeup try` invocation:
  `id, started_at, finished_at, status ('running'|'ok'|'interrupted'|'failed'), corpus_json, settings_json,
  result_json` — `result_json` is the whole `try --json` document below (bounded, <= 4 MiB).
  API: `HistoryDB.list_experiments(limit=20) -> list[dict]` (each: id, started_at, finished_at, status,
  result = the document below or {} while running; [] on a pre-v2 file opened read-only),
  `HistoryDB.get_experiment(id) -> dict`, `HistoryDB.experiment_run_ids(id) -> [run ids]`.
  `sizeup compare try:N` compares every candidate run of experiment N.
* Every candidate that ran is ALSO a row of `runs` with `kind = 'try'` (so `sizeup history` / `compare` see it):
  `extra_json` holds `{"experiment_id": N, "candidate": label, "index": i}`; summaries (metric -> mean/stddev/n/unit):
  `bpb` (bits/byte; pooled mean, stddev across chunks), `pass_at_1` (fraction 0..1), `load` (s), `ttft` (s), `pp` (tok/s), `tg` (tok/s),
  `rss_peak` (B), `rss_model` (B), `vram_peak` (B, when measured). `prediction_json` = candidate["estimate"].

## The document (`sizeup try ... --json` stdout; also experiments.result_json)

```jsonc
{
  "schema": "sizeup.try/1",
  "experiment_id": 12,                 // int | null (null with --no-save)
  "db": "/path/history.db",            // str | null
  "started_at": "2026-11-30T21:00:00Z", "finished_at": "...Z",
  "interrupted": false,                // Ctrl-C: finished candidates are kept, the rest "interrupted"/"skipped"
  "hardware": {"fingerprint": "ab12...", "cpu": "...", "ram_gib": 16, "gpus": [{"name": "...", "vram_gib": 24}]},
  "corpus": {
    "kind": "repo" | "code" | "prose" | "file",
    "name": "src",                     // display name
    "path": "/work/main/src" | null,
    "sha256": "…",                     // of the sampled text (UTF-8 bytes) all candidates scored
    "bytes": 65536,                    // sampled corpus size
    "n_files": 37,                     // repo: files sampled (0 otherwise)
    "files_seen": 120, "skipped": {"gitignored": 3, "binary": 2, "secret": 1, "vendored": 0, "generated": 0, "too_large": 0, "not_regular": 0, "unreadable": 0},
    "note": ""                         // e.g. "sampled 64 KiB of 1.2 MiB"
  },
  "settings": {
    "chunk_bytes": 512, "context_bytes": 1024, "n_chunks": 16, "budget_bytes": 262144,
    "tasks": "builtin" | "none" | "/path/tasks.json", "n_tasks": 40, "max_new_tokens": 192,
    "n_ctx": 2048, "n_threads": 2, "n_gpu_layers": 0,
    "pp_tokens": 512, "tg_tokens": 64, "reps": 2, "timeout_s": 1800,
    "min_speed": null | 10.0,          // tok/s (tg)
    "max_memory": null | 4294967296,   // bytes
    "force": false
  },
  "candidates": [
    {
      "index": 0,
      "label": "SmolLM2-135M Q4_1",    // short unique display label
      "spec": "what the user typed",
      "status": "ok" | "failed" | "refused" | "interrupted" | "skipped",
      "error": null | "one line",
      "run_id": 41 | null,             // runs.id of this candidate (kind 'try')
      "model": {"path": "/…/x.gguf", "name": "SmolLM2-135M-Instruct", "quant": "Q4_1",
                "file_size": 95000000, "n_params": 134515008, "source": "gguf" | "ollama" | "hf-cache" | "lmstudio",
                "derived_from": null | {"path": "/…/x-f16.gguf", "quant": "Q4_K_M", "cached": true}},
      "estimate": {                    // sizeup's prediction made before the run (bench's calibrate.predict_*)
        "memory": {"rss": 210000000, "host_total": ..., "vram": null, "fits": true, ...},
        "speed": {"tg_tps": 80.1, "pp_tps": 900.0, "calibrated": false, ...} | null
      },
      "measured": {                    // null members when not measured
        "load_s": 0.21, "ttft_s": 0.35, "ttft_prompt_tokens": 400,
        "pp_tps": 1200.0, "pp_tps_std": 12.0, "tg_tps": 95.0, "tg_tps_std": 1.1,
        "rss_peak_bytes": 250000000, "rss_model_bytes": 180000000, "vram_peak_bytes": null
      },
      "error_pct": {"rss": -3.1, "tg": 12.0, "pp": null},   // (estimate - measured) / measured * 100
      "quality": {
        "bpb": 1.23, "bpb_ci95": [1.18, 1.28], "bpb_stderr": 0.025,
        "n_chunks": 16, "bytes_scored": 8192, "tokens_scored": 2600,
        "per_chunk_bpb": [1.1, 1.3, ...],                   // same order for every candidate
        "roundtrip_exact": 1.0,        // fraction of spans whose tokens detokenize to exactly the span bytes
        "pass_at_1": 0.05 | null,      // null with --tasks none
        "pass_ci95": [0.01, 0.17] | null,                  // Wilson interval
        "tasks_passed": 2, "tasks_total": 40,
        "task_results": [{"id": "rev_words", "passed": false, "reason": "AssertionError" | "timeout" | "syntax" | "ok" | ...}]
      } ,
      "seconds": {"total": 12.3, "child": 10.0, "sandbox": 2.0,     // wall seconds; child_* = phases inside the child
                  "child_speed": 3.0, "child_ttft": 0.5, "child_bpb": 4.0, "child_generate": 2.0},
      "on_front": true                 // on the Pareto front (quality vs tg speed vs memory)
    }
  ],
  "verdict": {
    "quality_metric": "bpb",           // lower is better
    "front": ["SmolLM2-135M Q4_1", "gemma-3-270m Q4_K_M"],   // labels, smallest memory first
    "steps": [                         // consecutive candidates on the front, by memory
      {"from": "A", "to": "B", "bpb_delta": -0.21, "pass_delta_points": 5.0 | null,
       "memory_ratio": 2.1, "memory_delta_bytes": 150000000, "speed_ratio": 0.45,  // tg(B)/tg(A)
       "text": "B over A: 0.21 bits/byte better ... for 2.1x the memory (+143 MiB), 2.2x slower"}
    ],
    "best": {"label": "A" | null, "reason": "one line", "min_speed": null, "max_memory": null},
    "lines": ["plain-words sentence", "..."]
  },
  "chart": {"png": "/path/try-12.png" | null, "svg": "/path/try-12.svg" | null}
}
```
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..errors import SizeupError
from . import bpb as bpbmod

SCHEMA = "sizeup.try/1"
DEFAULT_TIMEOUT_S = 1800.0
MAX_TASK_RESULTS = 2000


@dataclass
class Settings:
    """Everything a ``try`` run is parameterised by (the ``settings`` block of the document)."""

    chunk_bytes: int = bpbmod.DEFAULT_SPAN_BYTES
    context_bytes: int = bpbmod.DEFAULT_CONTEXT_BYTES
    n_chunks: int = bpbmod.DEFAULT_CHUNKS
    budget_bytes: int = 256 * 1024
    tasks: str = "builtin"  # "builtin" | "none" | path
    tasks_limit: int | None = None
    n_tasks: int = 0
    max_new_tokens: int = 160
    n_ctx: int = 2048
    n_threads: int = 2
    n_gpu_layers: int = 0
    pp_tokens: int = 512
    tg_tokens: int = 64
    reps: int = 2
    timeout_s: float = DEFAULT_TIMEOUT_S
    task_timeout_s: float = 10.0  # wall seconds per sandboxed test run
    min_speed: float | None = None
    max_memory: int | None = None
    force: bool = False

    def check(self) -> None:
        for name, lo, hi in (("n_ctx", 256, 1 << 20), ("n_threads", 1, 4096), ("pp_tokens", 1, 1 << 16),
                             ("tg_tokens", 1, 1 << 14), ("reps", 1, 100), ("max_new_tokens", 8, 4096)):
            v = getattr(self, name)
            if not isinstance(v, int) or not lo <= v <= hi:
                raise SizeupError(f"{name.replace('_', '-')} must be a whole number from {lo} to {hi}, not {v!r}")
        if self.pp_tokens + self.tg_tokens + 1 > self.n_ctx:
            raise SizeupError(f"--ctx {self.n_ctx} is too small for a {self.pp_tokens}-token prompt and "
                              f"{self.tg_tokens} generated tokens")
        if not 0 < self.timeout_s <= 7 * 86400 or not 0 < self.task_timeout_s <= 3600:
            raise SizeupError("timeouts must be positive (and at most a week / an hour per task)")

    def bench_config(self):
        from ..bench.config import BenchConfig

        c = BenchConfig(n_prompt=self.pp_tokens, n_gen=self.tg_tokens, reps=self.reps, n_threads=self.n_threads,
                        n_ctx=self.n_ctx, n_batch=min(2048, self.n_ctx), n_ubatch=min(512, self.n_ctx),
                        n_gpu_layers=self.n_gpu_layers)
        c.check()
        return c

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Events:
    """Callbacks for a display (all optional; exceptions in them are the caller's)."""

    status: Callable[[str], None] | None = None  # one line: "measuring X (2/3)"
    progress: Callable[[str, str, int, int], None] | None = None  # (label, phase, done, total)
    row: Callable[[dict[str, Any]], None] | None = None  # a finished candidate dict


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


# --- corpus ------------------------------------------------------------------------------------

def build_corpus(on: str | None, corpus: str | None, budget: int) -> tuple[str, dict[str, Any]]:
    """The evaluation text and its description (the ``corpus`` block)."""
    import hashlib

    if on and corpus:
        raise SizeupError("give either --on PATH or --corpus, not both")
    if on:
        from .corpus_repo import sample_repo

        s = sample_repo(on, budget)
        meta = {"kind": "repo", "name": Path(os.path.abspath(on)).name or str(on), "path": os.path.abspath(on),
                "sha256": s.sha256, "bytes": s.n_bytes, "n_files": len(s.files), "files_seen": s.files_seen,
                "skipped": s.skipped, "note": s.note, "files": [{"path": p, "bytes": n} for p, n in s.files[:500]]}
        return s.text, meta
    from ..quality.corpus import load_corpus

    spec = corpus or "code"
    c = load_corpus(spec)
    data = c.text.encode("utf-8")
    note = c.note
    if len(data) > budget:  # a deterministic window: the start of the text, cut at a line end
        cut = data.rfind(b"\n", 0, budget)
        cut = cut + 1 if cut > budget // 2 else budget
        while cut > 0 and cut < len(data) and (data[cut] & 0xC0) == 0x80:
            cut -= 1
        note = (note + "; " if note else "") + f"first {cut:,} of {len(data):,} bytes"
        data = data[:cut]
    text = data.decode("utf-8", "replace")
    kind = spec if spec in ("code", "prose") else "file"
    return text, {"kind": kind, "name": Path(spec).name if kind == "file" else spec,
                  "path": os.path.abspath(spec) if kind == "file" else None,
                  "sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(), "bytes": len(text.encode("utf-8")),
                  "n_files": 0, "files_seen": 0, "skipped": {}, "note": note}


# --- one candidate -----------------------------------------------------------------------------

def _predict(cand, cfg, hw, db, fp) -> dict[str, Any]:
    from ..bench import calibrate

    pred: dict[str, Any] = {}
    try:
        pred["memory"] = calibrate.predict_memory(cand.model, cfg, hw)
    except SizeupError as e:
        pred["memory"] = {"error": str(e)}
    info = calibrate.fit_points(db.calibration_points(fp), cfg.n_threads, cfg.n_gpu_layers) if db else None
    try:
        pred["speed"] = calibrate.predict_speed(cand.model, cfg, hw, info.calibration if info else None)
        if info and pred["speed"]:
            pred["speed"]["calibrated_from_runs"] = info.n_runs
    except SizeupError as e:
        pred["speed"] = {"error": str(e)}
    return pred


def _measured(summ: dict[str, Any], res: dict[str, Any]) -> dict[str, Any]:
    def mean(m):
        return summ[m]["mean"] if m in summ else None

    def sd(m):
        return summ[m]["stddev"] if m in summ else None

    return {"load_s": mean("load"), "ttft_s": mean("ttft"), "ttft_prompt_tokens": res.get("ttft_prompt_tokens"),
            "pp_tps": mean("pp"), "pp_tps_std": sd("pp"), "tg_tps": mean("tg"), "tg_tps_std": sd("tg"),
            "rss_peak_bytes": mean("rss_peak"), "rss_model_bytes": mean("rss_model"),
            "vram_peak_bytes": mean("vram_peak")}


def run_tasks(tasks, completions: list[dict[str, Any]], timeout: float,
              progress: Callable[[int, int], None] | None = None) -> list[dict[str, Any]]:
    """Each completion + its task's hidden tests in the sandbox; one result dict per task."""
    from .sandbox import run_python
    from .tasks import new_marker

    by_id = {c.get("id"): c for c in completions}
    out = []
    for i, t in enumerate(tasks):
        if progress:
            progress(i, len(tasks))
        comp = by_id.get(t.id)
        if comp is None:
            out.append({"id": t.id, "passed": False, "reason": "no completion"})
            continue
        marker = new_marker()
        r = run_python(t.program(str(comp.get("text") or ""), marker), timeout=timeout,
                       cpu_seconds=max(1, int(timeout)), marker=marker)
        out.append({"id": t.id, "passed": r.ok, "reason": r.reason[:200], "stopped": comp.get("stopped"),
                    "n_tokens": comp.get("n_tokens")})
    return out


def _quality(res: dict[str, Any], task_results: list[dict[str, Any]] | None) -> dict[str, Any]:
    q = bpbmod.summarize(res.get("chunks") or [])
    if task_results is None:
        q.update({"pass_at_1": None, "pass_ci95": None, "tasks_passed": 0, "tasks_total": 0, "task_results": []})
    else:
        k, n = sum(1 for r in task_results if r["passed"]), len(task_results)
        q.update({"pass_at_1": k / n if n else None, "pass_ci95": bpbmod.wilson(k, n), "tasks_passed": k,
                  "tasks_total": n, "task_results": task_results[:MAX_TASK_RESULTS]})
    return q


# --- the whole experiment ----------------------------------------------------------------------

def run_try(specs: list[str], *, settings: Settings, on: str | None = None, corpus: str | None = None,
            db: Any = None, hw: Any = None, events: Events | None = None, chart_stem: Path | None = None,
            faults: dict[int, str] | None = None, resolve_kw: dict[str, Any] | None = None) -> dict[str, Any]:
    """Run the experiment; returns the ``try --json`` document.

    ``db``: a :class:`~sizeup.history.HistoryDB` (None: nothing recorded). ``hw``: the probed
    Hardware. ``faults`` (tests only) maps candidate index -> a fault of :func:`.measure._fault`.
    """
    from ..bench import calibrate
    from ..hardware.bandwidth import hostname_hash
    from ..history import hardware_fingerprint
    from . import candidates as cmod
    from .tasks import load_tasks

    ev = events or Events()
    settings.check()
    if not specs:
        raise SizeupError("give at least one model to try")
    if len(specs) > cmod.MAX_CANDIDATES:
        raise SizeupError(f"at most {cmod.MAX_CANDIDATES} candidates per try")
    started = _now()
    # resolve every candidate first: a typo or a remote name costs nothing
    cands = []
    for s in specs:
        if ev.status:
            ev.status(f"resolving {s}")
        cands.append(cmod.resolve(s, **(resolve_kw or {})))
    cmod.label_all(cands)
    text, cmeta = build_corpus(on, corpus, settings.budget_bytes)
    data = text.encode("utf-8")
    spans = bpbmod.choose_spans(data, settings.n_chunks, settings.chunk_bytes, settings.context_bytes)
    span_pairs = bpbmod.span_texts(data, spans)
    settings.n_chunks = len(spans)
    tasks = []
    if settings.tasks != "none":
        _, tasks = load_tasks(settings.tasks, settings.tasks_limit)
    settings.n_tasks = len(tasks)
    ttft_prompt = span_pairs[0][0] + span_pairs[0][1]
    if ev.status:
        ev.status(f"corpus: {cmeta['note'] or cmeta['name']}; {len(spans)} spans of ~{settings.chunk_bytes} bytes, "
                  f"{len(tasks)} tasks")
    cfg = settings.bench_config()
    fp, facts = hardware_fingerprint(hw)
    host = hostname_hash()
    rows: list[dict[str, Any]] = []
    for i, c in enumerate(cands):
        pred = _predict(c, cfg, hw, db, fp)
        rows.append({"index": i, "label": c.label, "spec": c.spec, "status": "pending", "error": None, "run_id": None,
                     "model": c.model_dict(), "estimate": pred, "measured": None, "error_pct": None, "quality": None,
                     "seconds": None, "on_front": False})
        refusal = calibrate.memory_refusal(pred.get("memory") or {})
        if refusal and not settings.force:
            rows[-1].update(status="refused", error=refusal)
    if all(r["status"] == "refused" for r in rows):
        raise SizeupError(f"{rows[0]['label']}: {rows[0]['error']}" if len(rows) == 1 else
                          "no candidate is predicted to fit in free memory (use --force to try anyway)")
    exp_id = db.start_experiment(cmeta, settings.to_dict(), hw) if db else None
    interrupted = False
    try:
        interrupted = _run_rows(cands, rows, tasks, span_pairs, ttft_prompt, cfg, settings, db, hw, fp, host,
                                exp_id, cmeta, ev, faults)
    except KeyboardInterrupt:  # between two measurements: the finished rows stay
        interrupted = True
        for row in rows:
            if row["status"] == "pending":
                row.update(status="interrupted", error="interrupted by the user")
    from .verdict import verdict

    doc: dict[str, Any] = {
        "schema": SCHEMA, "experiment_id": exp_id, "db": str(db.path) if db else None, "started_at": started,
        "finished_at": _now(), "interrupted": interrupted,
        "hardware": {"fingerprint": fp, "cpu": facts.get("cpu"), "ram_gib": facts.get("ram_gib"),
                     "gpus": facts.get("gpus") or []},
        "corpus": cmeta, "settings": settings.to_dict(), "candidates": rows,
        "verdict": verdict(rows, settings.min_speed, settings.max_memory), "chart": {"png": None, "svg": None},
    }
    if chart_stem is not None:
        from .chart import write_chart

        chart_stem = Path(str(chart_stem).replace("{id}", str(exp_id) if exp_id is not None
                                                  else time.strftime("%Y%m%d-%H%M%S")))
        try:
            paths = write_chart(rows, chart_stem, f"sizeup try on {cmeta['name']} ({cmeta['bytes']:,} bytes)")
        except SizeupError as e:
            doc["chart"]["error"] = str(e)
            paths = []
        for p in paths:
            doc["chart"][p.suffix.lstrip(".")] = str(p)
    if db:
        status = "interrupted" if interrupted else "ok"
        db.finish_experiment(exp_id, doc, status)
    return doc


def _run_rows(cands, rows, tasks, span_pairs, ttft_prompt, cfg, settings, db, hw, fp, host, exp_id, cmeta, ev,
              faults) -> bool:
    """Measure every candidate row in turn (see :func:`run_try`); returns whether interrupted."""
    from ..bench import calibrate
    from ..bench.runner import llama_cpp_version, summaries_from_result
    from ..bench.stats import error_pct
    from ..history import model_identity
    from ..llamacpp.child import ChildFailed, call_in_child

    interrupted = False
    for i, (c, row) in enumerate(zip(cands, rows)):
        if row["status"] == "refused":
            if ev.row:
                ev.row(row)
            continue
        if interrupted:
            row.update(status="skipped", error="not run: interrupted by the user")
            continue
        if ev.status:
            ev.status(f"[{i + 1}/{len(cands)}] {c.label}")
        t0 = time.perf_counter()
        run_id = None
        if db:
            run_id = db.start_run("try", model_identity(c.path, c.model.name, row["model"]["quant"]), cfg.to_dict(),
                                  row["estimate"], hw, versions={"llama_cpp": llama_cpp_version()},
                                  extra={"experiment_id": exp_id, "candidate": c.label, "index": i, "pid": os.getpid(),
                                         "host": host, "corpus_sha256": cmeta["sha256"]})
        row["run_id"] = run_id
        spec = {"path": c.path, "config": cfg.to_dict(), "spans": span_pairs, "ttft_prompt": ttft_prompt,
                "tasks": [{"id": t.id, "prompt": t.prompt} for t in tasks], "max_new_tokens": settings.max_new_tokens}
        if faults and faults.get(i):
            spec["fault"] = faults[i]

        def prog(phase, done, total, _label=c.label):
            if ev.progress:
                ev.progress(_label, str(phase), int(done), int(total))

        try:
            res = call_in_child("sizeup.experiment.measure:measure_candidate", {"spec": spec},
                                timeout=settings.timeout_s, progress=prog)
            t_child = time.perf_counter() - t0
            t1 = time.perf_counter()
            task_results = None
            if tasks:
                task_results = run_tasks(tasks, res.get("completions") or [], settings.task_timeout_s,
                                         lambda d, t, _l=c.label: prog("sandbox", d, t))
            t_sandbox = time.perf_counter() - t1
            try:
                summ, samples = summaries_from_result(cfg, res)
                quality = _quality(res, task_results)
            except (ValueError, KeyError, TypeError) as e:
                raise ChildFailed(f"the measurement returned unusable results ({type(e).__name__}: {e})") from None
        except ChildFailed as e:
            row.update(status="failed", error=str(e)[:500], seconds={"total": time.perf_counter() - t0})
            if db:
                db.finish_run(run_id, None, "failed", row["error"])
        except KeyboardInterrupt:
            interrupted = True
            row.update(status="interrupted", error="interrupted by the user")
            if db:
                db.finish_run(run_id, None, "interrupted", row["error"])
            continue
        else:
            row["status"] = "ok"
            row["measured"] = _measured(summ, res)
            mem, spd = row["estimate"].get("memory") or {}, row["estimate"].get("speed") or {}
            row["error_pct"] = {"rss": error_pct(mem.get("rss"), row["measured"]["rss_model_bytes"]),
                                "tg": error_pct(spd.get("tg_tps"), row["measured"]["tg_tps"]),
                                "pp": error_pct(spd.get("pp_tps"), row["measured"]["pp_tps"])}
            row["quality"] = quality
            row["seconds"] = {"total": time.perf_counter() - t0, "child": t_child, "sandbox": t_sandbox,
                              **{f"child_{k}": v for k, v in (res.get("seconds") or {}).items()}}
            if db:
                from ..bench.stats import summarize

                summ = dict(summ)
                samples = dict(samples)
                # bpb: the pooled figure (sum of bits / sum of bytes) with the per-chunk spread
                summ["bpb"] = summarize(quality["per_chunk_bpb"]).to_dict() | {"mean": quality["bpb"],
                                                                               "unit": "bits/byte"}
                samples["bpb"] = (quality["per_chunk_bpb"], "bits/byte")
                if quality["pass_at_1"] is not None:
                    outcomes = [1.0 if t["passed"] else 0.0 for t in quality["task_results"]]
                    summ["pass_at_1"] = summarize(outcomes).to_dict() | {"unit": "fraction"}
                    samples["pass_at_1"] = (outcomes, "fraction")
                db.finish_run(run_id, summ, "ok", samples=samples,
                              extra={"load_state": res.get("load_state"), "n_ctx": res.get("n_ctx"),
                                     "bpb_ci95": quality["bpb_ci95"], "tasks_passed": quality["tasks_passed"],
                                     "tasks_total": quality["tasks_total"]},
                              versions={"llama_cpp": llama_cpp_version(), "llama_system_info": res.get("system_info")})
                measured = {m: s["mean"] for m, s in summ.items()}
                calibrate.record_points(db, fp, run_id, cfg, row["estimate"].get("speed"), measured)
        if ev.row:
            ev.row(row)
    return interrupted
