"""``sizeup bench``: measure a GGUF model in llama.cpp (or a running server with --endpoint)."""

from __future__ import annotations

HELP = "measure a model in llama.cpp: load time, prompt and generation tok/s, peak memory; sweeps like llama-bench"
DESCRIPTION = (
    "Benchmark MODEL.gguf in llama.cpp (llama-cpp-python, in-process, one worker process per "
    "configuration) the way llama-bench does: pp = prompt processing of -p tokens, tg = generating "
    "-n tokens one by one, optionally at KV depth -d; a warm-up, then -r repetitions, mean ± stddev. "
    "Options marked LIST take comma lists and sweep their cartesian product. Each row shows sizeup's "
    "prediction next to the measurement; results go to the history database (see `sizeup history`) "
    "and calibrate sizeup's speed estimates for this machine. With --endpoint URL, benchmark a running "
    "OpenAI-compatible or Ollama server instead."
)


def add_arguments(p) -> None:
    p.add_argument("model", metavar="MODEL", nargs="?", help="GGUF model file (not needed with --endpoint)")
    p.add_argument("-p", "--n-prompt", dest="n_prompt", metavar="LIST", help="prompt tokens (default 512)")
    p.add_argument("-n", "--n-gen", dest="n_gen", metavar="LIST", help="generated tokens (default 128)")
    p.add_argument("-d", "--depth", dest="n_depth", default="0", metavar="LIST", help="KV cache depth before the test (default 0)")
    p.add_argument("-r", "--repetitions", dest="reps", type=int, default=5, help="timed repetitions (default 5)")
    p.add_argument("-t", "--threads", dest="n_threads", metavar="LIST", help="CPU threads (default: physical cores)")
    p.add_argument("--ctx", "-c", dest="n_ctx", default="4096", metavar="LIST", help="context size (default 4096)")
    p.add_argument("--batch", "-b", dest="n_batch", default="2048", metavar="LIST", help="logical batch (default 2048)")
    p.add_argument("--ubatch", "-ub", dest="n_ubatch", default="512", metavar="LIST", help="physical batch (default 512)")
    p.add_argument("--kv-type", dest="type_k", default="f16", metavar="LIST", help="KV cache type for K and V (default f16)")
    p.add_argument("--fa", dest="flash_attn", default="auto", metavar="LIST", help="flash attention on/off/auto (default auto)")
    p.add_argument("--ngl", dest="n_gpu_layers", metavar="LIST",
                   help="layers offloaded to the GPU (default: 99 with a GPU, else 0)")
    p.add_argument("--cold", action="store_true",
                   help="measure a cold load: drop the file from the page cache first (posix_fadvise)")
    p.add_argument("--no-mmap", action="store_true", help="read the weights into RAM instead of mapping the file")
    p.add_argument("--no-warmup", action="store_true", help="skip the warm-up run")
    p.add_argument("--timeout", type=float, default=1800.0, help="seconds allowed per configuration (default 1800)")
    p.add_argument("--force", action="store_true", help="run configurations predicted not to fit in free memory")
    p.add_argument("--db", help="history database (default: the user data dir's sizeup/history.db)")
    p.add_argument("--no-save", action="store_true", help="do not record the results in the history")
    p.add_argument("--endpoint", metavar="URL", help="benchmark a running OpenAI-compatible or Ollama server instead")
    p.add_argument("--json", action="store_true", help="print machine-readable JSON on stdout")
    try:  # the endpoint benchmark's own options (another module; optional)
        from ...bench.server import add_endpoint_arguments
    except ImportError:
        return
    import argparse

    try:
        add_endpoint_arguments(p)
    except argparse.ArgumentError:
        pass


def _configs(args, hw):
    from ...bench.config import BenchConfig, expand_sweep
    from ...errors import SizeupError

    if args.reps < 1 or args.reps > 1000:
        raise SizeupError(f"-r must be between 1 and 1000, not {args.reps}")
    if not 0 < args.timeout <= 7 * 86400:
        raise SizeupError(f"--timeout must be positive seconds, not {args.timeout}")
    threads = hw.cpu.physical_cores or hw.cpu.logical_cores or 1
    ngl = 99 if hw.gpus and any(g.vendor in ("nvidia", "amd", "apple", "intel") for g in hw.gpus) else 0
    base = BenchConfig(reps=args.reps, n_threads=threads, n_gpu_layers=ngl, use_mmap=not args.no_mmap,
                       cold=args.cold, warmup=not args.no_warmup)
    lists = {k: getattr(args, k) for k in ("n_prompt", "n_gen", "n_depth", "n_threads", "n_ctx", "n_batch",
                                           "n_ubatch", "type_k", "flash_attn", "n_gpu_layers")}
    return expand_sweep(lists, base)


def run(args) -> int:
    from ...errors import SizeupError

    if args.endpoint:
        from ...bench.server import run_endpoint_bench

        return int(run_endpoint_bench(args) or 0)
    if not args.model:
        raise SizeupError("give a GGUF model file to benchmark (or --endpoint URL for a running server)")

    import os
    import sys
    from pathlib import Path

    path = Path(args.model)
    if not path.is_file():
        raise SizeupError(f"{path}: no such model file")
    if not os.access(path, os.R_OK):
        raise SizeupError(f"{path}: not readable")

    from ...hardware import probe_hardware

    hw = probe_hardware()
    configs, skipped = _configs(args, hw)

    from ...sources.dispatch import describe

    model = describe(path, allow_catalog=False)
    if model.source != "gguf":
        raise SizeupError(f"{path}: sizeup bench runs GGUF files in llama.cpp; this is {model.source}")

    try:
        import importlib.util

        if importlib.util.find_spec("llama_cpp") is None:
            raise SizeupError("llama-cpp-python is not installed; fix: sizeup engine install")
    except ValueError:
        raise SizeupError("llama-cpp-python is not importable") from None

    from ...bench.runner import run_bench
    from ...history import HistoryDB
    from ..output import err_console, warn

    for d, reason in skipped:
        warn(f"skipping a configuration (fa={d['flash_attn']}, kv={d['type_k']}): {reason}")

    db_path = args.db
    if args.no_save:
        import tempfile

        tmp = tempfile.TemporaryDirectory(prefix="sizeup-bench-")
        db_path = Path(tmp.name) / "history.db"
    db = HistoryDB(db_path)
    db.mark_dead_runs()
    con = err_console()
    show = con.is_terminal and not os.environ.get("SIZEUP_NO_PROGRESS")
    rows = []
    interrupted = False
    try:
        if show:
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            from ...render.safe import plain, safe_text

            with Progress(TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), console=con,
                          transient=True) as prog:
                task = prog.add_task("", total=None)

                def start(i, cfg):
                    prog.update(task, description=f"\\[{i + 1}/{len(configs)}] {safe_text(cfg.label())}: predicting", completed=0,
                                total=None)

                def progress(phase, done, total):
                    d = prog.tasks[0].description.split(": ")[0]
                    prog.update(task, description=f"{d}: {phase} {done + 1}/{total}" if phase in ("pp", "tg")
                                else f"{d}: {phase}", completed=done, total=total or None)

                def done_row(r):
                    prog.console.print(plain(_row_line(r)), highlight=False)

                rows = run_bench(path, configs, db=db, hw=hw, model=model, force=args.force, timeout=args.timeout,
                                 on_row_start=start, progress=progress, on_row_done=done_row)
        else:
            rows = run_bench(path, configs, db=db, hw=hw, model=model, force=args.force, timeout=args.timeout)
    except KeyboardInterrupt as e:
        rows = list(getattr(e, "rows", []))
        interrupted = True
    finally:
        db.close()

    if rows and all(r.status == "refused" for r in rows) and not interrupted:
        raise SizeupError(rows[0].error or "predicted not to fit in free memory")
    if args.json:
        from ..output import print_json

        print_json({"model": {"path": str(path), "name": model.name, "quant": model.quant.label if model.quant else None,
                              "file_size": model.file_size},
                    "db": None if args.no_save else str(db.path), "interrupted": interrupted,
                    "rows": [r.to_dict() for r in rows]})
    else:
        _render(model, rows)
    if interrupted:
        done = sum(1 for r in rows if r.status == "ok")
        print(f"sizeup: interrupted; {done} finished configuration(s) saved", file=sys.stderr)
        return 130
    return 0 if all(r.status == "ok" for r in rows) else 1


def _row_line(r) -> str:
    if r.status == "ok":
        tg, pp = r.mean("tg"), r.mean("pp")
        bits = [f"pp {pp:.1f} tok/s" if pp else "", f"tg {tg:.1f} tok/s" if tg else ""]
        return f"  done #{r.index + 1} {r.config.label()}: " + ", ".join(b for b in bits if b)
    return f"  {r.status} #{r.index + 1} {r.config.label()}: {r.error}"


def _fmt_pm(s) -> str:
    if not s:
        return "-"
    if s["n"] > 1:
        return f"{s['mean']:.2f} ± {s['stddev']:.2f}"
    return f"{s['mean']:.2f}"


def _pred_cell(pred, meas, fmt) -> str:
    from ...bench.stats import error_pct

    if pred is None:
        return "-"
    e = error_pct(pred, meas)
    return fmt(pred) + (f" ({e:+.0f}%)" if e is not None else "")


def _render(model, rows) -> None:
    from ...bench.config import varying_labels
    from ...render.safe import TextTable, markup, safe_text
    from ...units import fmt_bytes
    from ..output import console

    labels = varying_labels([r.config for r in rows]) if rows else []
    t = TextTable(title=f"{safe_text(model.name)} ({safe_text(model.quant.label if model.quant else '?')}, {fmt_bytes(model.file_size)})")
    for col in ("run", "config", "pp tok/s", "tg tok/s", "tg predicted", "TTFT s", "load s", "RSS", "RSS predicted"):
        t.add_column(col, justify="left" if col == "config" else "right")
    for r, label in zip(rows, labels):
        if r.status != "ok":
            t.add_row(str(r.run_id or "-"), label, markup(f"[red]{safe_text(r.status)}[/] (below)"), "", "", "", "", "", "")
            continue
        spd = r.prediction.get("speed") or {}
        mem = r.prediction.get("memory") or {}
        pcell = _pred_cell(spd.get("tg_tps"), r.mean("tg"), lambda v: f"{v:.1f}")
        if spd.get("calibrated_from_runs"):
            pcell += "*"
        rss = r.mean("rss_model")
        t.add_row(str(r.run_id or "-"), label, _fmt_pm(r.summaries.get("pp")),
                  _fmt_pm(r.summaries.get("tg")), pcell, _fmt_pm(r.summaries.get("ttft")),
                  f"{r.mean('load'):.2f}" + (" cold" if (r.info.get("load_state") or "").startswith("cold") else ""),
                  fmt_bytes(rss), _pred_cell(mem.get("rss"), rss, fmt_bytes))
    console().print(t)
    for r, label in zip(rows, labels):
        if r.status != "ok":  # the whole reason, not squeezed into a column: it names the cause and the fix
            console().print(markup(f"[red]{safe_text(r.status)}[/] {safe_text(label)}: {safe_text(r.error)}"))
    if rows:
        c = rows[0].config
        console().print(f"[dim]pp{c.n_prompt} / tg{c.n_gen}" + (f" at depth {c.n_depth}" if c.n_depth else "")
                        + f", {c.reps} repetitions (mean ± stddev). RSS: peak resident memory of the worker minus the "
                        "Python interpreter. (err) = (predicted - measured) / measured; * = speed calibrated from "
                        "earlier runs on this machine.[/]")
