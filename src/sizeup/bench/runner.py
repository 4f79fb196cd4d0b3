"""The parent side of ``sizeup bench``: predict, run each configuration in its own worker, record.

For every configuration of a sweep:

1. predict memory (and speed) with sizeup's estimator; refuse a configuration predicted not to
   fit in free RAM / VRAM unless forced - loading it would swap the machine to a crawl;
2. record the run as ``running`` in the history (committed), so even a SIGKILL leaves a trace;
3. start ``python -m sizeup.bench.worker`` in a new session, send it the spec, read its JSON
   progress lines under a deadline; a crash, OOM kill, timeout or error fails this row only,
   with a one-line reason;
4. summarize the samples (:mod:`.stats`) and commit samples, summaries and status in one
   transaction; add the tg rate as a calibration point for this machine.

Ctrl-C kills the worker of the row in progress, marks that run ``interrupted`` and stops; rows
already finished stay saved.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from dataclasses import dataclass, field
from typing import Any, Callable

from ..errors import SizeupError
from .config import DEFAULT_TIMEOUT_S, BenchConfig
from .stats import rates, summarize

MAX_LINE_BYTES = 4 * 1024 * 1024  # one JSON line from the worker

Progress = Callable[[str, int, int], None]  # (phase, done, total)


class WorkerFailed(Exception):
    """The worker produced no result; ``str(e)`` is the one-line reason."""


@dataclass
class RowResult:
    index: int
    config: BenchConfig
    status: str  # ok | failed | refused | interrupted
    error: str | None = None
    run_id: int | None = None
    summaries: dict[str, dict[str, Any]] = field(default_factory=dict)  # metric -> Summary dict + unit
    prediction: dict[str, Any] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)  # load state, n_ctx, versions...

    def mean(self, metric: str) -> float | None:
        s = self.summaries.get(metric)
        return s["mean"] if s else None

    def to_dict(self) -> dict[str, Any]:
        from .stats import error_pct

        mem = self.prediction.get("memory") or {}
        spd = self.prediction.get("speed") or {}
        return {
            "index": self.index, "run_id": self.run_id, "status": self.status, "error": self.error,
            "config": self.config.to_dict(), "label": self.config.label(),
            "measured": self.summaries, "prediction": self.prediction, "info": self.info,
            "error_pct": {
                "rss": error_pct(mem.get("rss"), self.mean("rss_model")),
                "tg": error_pct(spd.get("tg_tps"), self.mean("tg")),
                "pp": error_pct(spd.get("pp_tps"), self.mean("pp")),
            },
        }


def _signal_reason(rc: int) -> str:
    sig = -rc
    try:
        name = signal.Signals(sig).name
    except ValueError:
        name = f"signal {sig}"
    if sig == signal.SIGKILL:
        return f"worker killed by {name} (out of memory? the kernel's OOM killer sends SIGKILL)"
    if sig == signal.SIGSEGV:
        return f"worker crashed ({name}) inside llama.cpp"
    if sig == signal.SIGABRT:
        return f"worker aborted ({name}; llama.cpp assertion failed)"
    return f"worker killed by {name}"


def _stderr_reason(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    for ln in reversed(lines):
        if "GGML_ASSERT" in ln or "error" in ln.lower() or "failed" in ln.lower():
            return ln[:300]
    return lines[-1][:300] if lines else ""


def run_worker(path: str | os.PathLike[str], cfg: BenchConfig, timeout: float = DEFAULT_TIMEOUT_S,
               progress: Progress | None = None, fault: str | None = None, python: str | None = None) -> dict[str, Any]:
    """Run one configuration in a fresh worker process; return its result dict.

    Raises :class:`WorkerFailed` with a one-line reason on error, crash or timeout, and
    KeyboardInterrupt (after killing the worker) when interrupted.
    """
    from ..llamacpp.child import run_json_child

    spec: dict[str, Any] = {"path": str(path), "config": cfg.to_dict()}
    if fault:
        spec["fault"] = fault
    got: dict[str, Any] = {}

    def on_event(ev: dict[str, Any]) -> bool:
        kind = ev.get("event")
        if kind == "progress" and progress:
            progress(str(ev.get("phase")), int(ev.get("done", 0)), int(ev.get("total", 0)))
        elif kind == "result":
            got["result"] = ev
        elif kind == "error":
            got["error"] = str(ev.get("error") or "unknown error")[:500]
        return False

    run = run_json_child([python or sys.executable, "-m", "sizeup.bench.worker"], json.dumps(spec).encode(),
                         timeout=timeout, on_event=on_event, max_line=MAX_LINE_BYTES)
    if run.timed_out:
        raise WorkerFailed(f"timed out after {timeout:.0f} s")
    if "result" in got:
        return got["result"]
    if run.oversized:
        raise WorkerFailed("worker wrote an oversized line")
    if "error" in got:
        raise WorkerFailed(got["error"])
    rc = run.returncode
    if rc is not None and rc < 0:
        raise WorkerFailed(_crash_reason(rc, run.stderr_tail, python))
    reason = _stderr_reason(run.stderr_tail)
    raise WorkerFailed(f"worker exited with code {rc}" + (f": {reason}" if reason else ""))


def _crash_reason(rc: int, tail: str, python: str | None) -> str:
    """The signal, and the probable cause with its fix when the crash has a known signature."""
    if -rc == signal.SIGKILL:
        return _signal_reason(rc)
    from ..engine.doctor import explain_child_crash

    return f"{_signal_reason(rc)}: {explain_child_crash(rc, tail, python)}"


def summaries_from_result(cfg: BenchConfig, res: dict[str, Any]) -> tuple[dict[str, dict[str, Any]], dict[str, tuple[list[float], str]]]:
    """Per-metric summaries and raw samples from a worker result (pure)."""
    s = res.get("samples") or {}
    samples: dict[str, tuple[list[float], str]] = {}
    if s.get("pp_s"):
        samples["pp"] = (rates(cfg.n_prompt, s["pp_s"]), "tok/s")
    if s.get("ttft_s"):
        samples["ttft"] = ([float(x) for x in s["ttft_s"]], "s")
    if s.get("tg_s"):
        samples["tg"] = (rates(cfg.n_gen, s["tg_s"]), "tok/s")
    samples["load"] = ([float(res["load_s"]) + float(res.get("ctx_init_s") or 0.0)], "s")
    samples["rss_peak"] = ([float(res["rss_peak"])], "B")
    samples["rss_model"] = ([float(res["rss_peak"]) - float(res.get("rss_base") or 0)], "B")
    if res.get("vram_peak"):
        samples["vram_peak"] = ([float(res["vram_peak"])], "B")
    summ = {}
    for m, (vals, unit) in samples.items():
        summ[m] = summarize(vals).to_dict() | {"unit": unit}
    return summ, samples


def llama_cpp_version() -> str | None:
    """llama-cpp-python's version from its metadata (cheap: no native library load)."""
    from importlib import metadata

    for dist in ("llama_cpp_python", "llama-cpp-python"):
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return None


def run_bench(model_path: str | os.PathLike[str], configs: list[BenchConfig], *, db: Any, hw: Any, model: Any,
              force: bool = False, timeout: float = DEFAULT_TIMEOUT_S,
              on_row_start: Callable[[int, BenchConfig], None] | None = None,
              progress: Progress | None = None, on_row_done: Callable[[RowResult], None] | None = None,
              faults: dict[int, str] | None = None) -> list[RowResult]:
    """Run every configuration; return one RowResult per configuration (in order).

    ``db``: a :class:`~sizeup.history.HistoryDB`; ``hw``: the probed Hardware; ``model``: the
    file's ModelDescription. ``faults`` (tests only, see worker._fault) maps row index -> fault.
    On KeyboardInterrupt the row in progress is recorded ``interrupted`` and the interrupt is
    re-raised with ``.rows`` (the finished rows) attached.
    """
    from ..history import hardware_fingerprint, model_identity
    from . import calibrate

    ident = model_identity(model_path, model.name, model.quant.label if model.quant else None)
    fp, _ = hardware_fingerprint(hw)
    cal_cache: dict[tuple[int, int], Any] = {}
    rows: list[RowResult] = []
    from ..hardware.bandwidth import hostname_hash

    host = hostname_hash()
    try:
        for i, cfg in enumerate(configs):
            if on_row_start:
                on_row_start(i, cfg)
            pred: dict[str, Any] = {}
            try:
                pred["memory"] = calibrate.predict_memory(model, cfg, hw)
            except SizeupError as e:
                pred["memory"] = {"error": str(e)}
            key = (cfg.n_threads, cfg.n_gpu_layers)
            if key not in cal_cache:
                cal_cache[key] = calibrate.fit_points(db.calibration_points(fp), cfg.n_threads, cfg.n_gpu_layers)
            info = cal_cache[key]
            try:
                pred["speed"] = calibrate.predict_speed(model, cfg, hw, info.calibration if info else None)
                if info and pred["speed"]:
                    pred["speed"]["calibrated_from_runs"] = info.n_runs
            except SizeupError as e:
                pred["speed"] = {"error": str(e)}
            row = RowResult(i, cfg, "running", prediction=pred)
            refusal = calibrate.memory_refusal(pred["memory"])
            if refusal and not force:
                row.status, row.error = "refused", refusal
                rows.append(row)
                if on_row_done:
                    on_row_done(row)
                continue
            row.run_id = db.start_run("llama.cpp", ident, cfg.to_dict(), pred, hw,
                                      versions={"llama_cpp": llama_cpp_version()},
                                      extra={"pid": os.getpid(), "host": host, "sweep_index": i, "n_configs": len(configs)})
            try:
                res = run_worker(model_path, cfg, timeout, progress, fault=(faults or {}).get(i))
                try:
                    summ, samples = summaries_from_result(cfg, res)
                except (ValueError, KeyError, TypeError) as e:
                    raise WorkerFailed(f"worker returned unusable results ({type(e).__name__}: {e})") from None
            except WorkerFailed as e:
                row.status, row.error = "failed", str(e)
                db.finish_run(row.run_id, None, "failed", row.error)
            except KeyboardInterrupt:
                row.status, row.error = "interrupted", "interrupted by the user"
                db.finish_run(row.run_id, None, "interrupted", row.error)
                rows.append(row)
                raise
            else:
                row.status = "ok"
                row.summaries = summ
                row.info = {k: res.get(k) for k in ("load_state", "n_ctx", "model_bytes", "n_params", "system_info")}
                db.finish_run(row.run_id, summ, "ok", samples=samples,
                              extra={"load_state": res.get("load_state"), "n_ctx": res.get("n_ctx")},
                              versions={"llama_cpp": llama_cpp_version(), "llama_system_info": res.get("system_info")})
                measured = {m: s["mean"] for m, s in summ.items()}
                if calibrate.record_points(db, fp, row.run_id, cfg, pred.get("speed"), measured):
                    cal_cache.pop(key, None)
            rows.append(row)
            if on_row_done:
                on_row_done(row)
    except KeyboardInterrupt as e:
        e.rows = rows  # type: ignore[attr-defined]
        raise
    return rows
